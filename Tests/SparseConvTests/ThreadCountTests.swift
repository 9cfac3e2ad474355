import Testing
@testable import SparseConv

/// OpenMP thread counts that change from one run to the next, and plans of
/// different thread counts running at once from Swift tasks (the ThreadSanitizer
/// target with PlanTests: `Scripts/sanitize thread --filter "PlanTests|ThreadCountTests"`).
@Suite struct ThreadCountTests {
    @Test func threadCountsChangingBetweenAndDuringRunsGiveTheSameOutputs() async throws {
        let (model, _) = try Zoo.mobilenetV2.model(seed: 9, inputSize: 32).pruned(PruningOptions(granularity: .block1x2, sparsity: 0.6))
        let plans = try [1, 2, 3, 4].map { try Planner(mode: .estimate, threads: $0).plan(model) }
        let inputs = try (0..<8).map { try Tensor.random(shape: plans[0].inputShape, seed: UInt64(200 + $0)) }
        // Serially, alternating thread counts from run to run.
        var serial: [Tensor] = []
        for (index, input) in inputs.enumerated() { serial.append(try plans[index % plans.count].run(input)) }
        for (index, input) in inputs.enumerated() {
            let other = try plans[(index + 1) % plans.count].run(input)
            // Different thread counts may split sums differently, never by more than rounding.
            #expect(try other.normalizedError(to: serial[index]) <= 1e-5, "input \(index)")
        }
        // Concurrently: eight tasks, four thread counts, each result as its own serial run.
        let concurrent = try await withThrowingTaskGroup(of: (Int, Tensor).self) { group in
            for (index, input) in inputs.enumerated() {
                group.addTask { (index, try plans[index % plans.count].run(input)) }
            }
            var results = [Tensor?](repeating: nil, count: inputs.count)
            for try await (index, output) in group { results[index] = output }
            return results.map { $0! }
        }
        #expect(concurrent == serial)
    }
}

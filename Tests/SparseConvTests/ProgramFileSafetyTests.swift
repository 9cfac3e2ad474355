import Foundation
import Testing
@testable import SparseConv

/// `sparse-run`, `sparse-prune` and `sparse-bench` as built binaries: interrupted runs leave
/// no output and no temporary file, inputs are never modified, an output that
/// is an input is refused, and the memory limit reaches them from the
/// command line and the environment; sparse-bench binds its threads unless
/// the environment says how.
@Suite struct ProgramFileSafetyTests {
    static let onnx = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/onnx")

    /// `swift build` puts the programs beside the test bundle.
    static func program(_ name: String) throws -> URL {
        let directory = Bundle.main.executableURL?.deletingLastPathComponent()
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let url = directory.appendingPathComponent(name)
        try #require(FileManager.default.isExecutableFile(atPath: url.path), "\(url.path) is not built (run `swift build` first)")
        return url
    }

    /// A scratch directory with a copy of a fixture model and its input.
    struct Scratch {
        let directory: URL
        var model: String { directory.appendingPathComponent("model.onnx").path }
        var input: String { directory.appendingPathComponent("x.npy").path }

        init(fixture: String = "resnet_tiny") throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("programs-\(UInt64.random(in: 0 ... .max))")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: onnx.appendingPathComponent("\(fixture).onnx").path, toPath: model)
            try FileManager.default.copyItem(atPath: onnx.appendingPathComponent("\(fixture).input.npy").path, toPath: input)
        }

        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        func contents() throws -> Set<String> { Set(try FileManager.default.contentsOfDirectory(atPath: directory.path)) }
        func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }
        func remove() { try? FileManager.default.removeItem(at: directory) }
    }

    struct Finished: CustomStringConvertible {
        /// The exit status, when the program exited.
        let status: Int32?
        /// The signal that killed it, when one did.
        let signal: Int32?
        let standardError: String
        var description: String { "status \(status.map(String.init) ?? "-"), signal \(signal.map(String.init) ?? "-"): \(standardError)" }
    }

    /// A started program. Spawned with posix_spawn rather than Process so that
    /// SIGINT starts at its default action and unblocked even when this test
    /// runner has it ignored (as shells do for background jobs; the programs
    /// then keep it ignored) or blocked.
    final class Running {
        let pid: pid_t
        let log: URL
        private var waitStatus: Int32?

        init(_ executable: URL, _ arguments: [String], environment: [String: String]) throws {
            log = FileManager.default.temporaryDirectory.appendingPathComponent("stderr-\(UInt64.random(in: 0 ... .max)).txt")
            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            var defaults = sigset_t()
            sigemptyset(&defaults)
            for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&defaults, signal) }
            posix_spawnattr_setsigdefault(&attributes, &defaults)
            // The test runner's threads may block signals; the program must not inherit that.
            var unblocked = sigset_t()
            sigemptyset(&unblocked)
            posix_spawnattr_setsigmask(&attributes, &unblocked)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, log.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            let environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }.map { "\($0)=\($1)" }
            let argv = ([executable.path] + arguments).map { strdup($0) } + [nil]
            let envp = environment.map { strdup($0) } + [nil]
            defer { for pointer in argv + envp { free(pointer) } }
            var pid = pid_t()
            let error = posix_spawn(&pid, executable.path, &actions, &attributes, argv, envp)
            guard error == 0 else { throw SparseConvError.invalidArgument("posix_spawn \(executable.path): \(String(cString: strerror(error)))") }
            self.pid = pid
        }

        var isRunning: Bool {
            if waitStatus != nil { return false }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { waitStatus = status }
            return waitStatus == nil
        }

        func interrupt() { kill(pid, SIGINT) }

        /// Waits for the exit; a program still running after `timeout` seconds
        /// is killed (and then reported as killed by SIGKILL, failing the test).
        func finish(timeout: Double = 600) throws -> Finished {
            if !ProgramFileSafetyTests.wait(seconds: timeout, until: { !isRunning }) { kill(pid, SIGKILL) }
            if waitStatus == nil {
                var status: Int32 = 0
                waitpid(pid, &status, 0)
                waitStatus = status
            }
            defer { try? FileManager.default.removeItem(at: log) }
            let status = waitStatus!
            let text = String(decoding: (try? Data(contentsOf: log)) ?? Data(), as: UTF8.self)
            // WIFEXITED / WTERMSIG are C macros that Swift cannot call.
            let signal = status & 0x7f
            return signal == 0 ? Finished(status: (status >> 8) & 0xff, signal: nil, standardError: text)
                : Finished(status: nil, signal: signal, standardError: text)
        }
    }

    static func start(_ name: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Running {
        try Running(try program(name), arguments, environment: environment)
    }

    static func run(_ name: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Finished {
        try start(name, arguments, environment: environment).finish()
    }

    /// Waits up to `seconds` for `condition`.
    static func wait(seconds: Double, until condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    @Test func sparseRunInterruptedLeavesNoOutputAndKeepsItsInputs() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let model = try scratch.bytes(scratch.model), input = try scratch.bytes(scratch.input)
        let wisdom = scratch.path("wisdom.json"), output = scratch.path("y.npy")
        // The wisdom file is saved right after planning: once it exists the
        // program is inside its (practically endless) timing loop.
        let process = try Self.start("sparse-run", [scratch.model, "--input", scratch.input, "--output", output,
                                                           "--plan", "measure", "--wisdom", wisdom, "--threads", "1",
                                                           "--repeat", "1000000"])
        let planned = Self.wait(seconds: 120) { FileManager.default.fileExists(atPath: wisdom) || !process.isRunning }
        #expect(planned && process.isRunning, "sparse-run ended before it could be interrupted")
        process.interrupt()
        let result = try process.finish(timeout: 30)
        #expect(result.signal == SIGINT, "\(result)")
        #expect(try scratch.contents() == ["model.onnx", "x.npy", "wisdom.json"])
        #expect(try scratch.bytes(scratch.model) == model && scratch.bytes(scratch.input) == input)
        // The wisdom written before the interrupt is complete.
        let saved = Wisdom(contentsOf: wisdom)
        #expect(saved.loadDiagnostic == nil && saved.count > 0)
    }

    @Test func sparsePruneInterruptedLeavesNoOutputAndKeepsItsInput() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        // Big enough that the analysis (19 sparsities × 20 convolutions) runs for seconds.
        try Zoo.resnet18.model(seed: 1, inputSize: 32).writeONNX(to: scratch.model)
        let model = try scratch.bytes(scratch.model)
        let sparsities = (1...19).map { String(Double($0) / 20) }.joined(separator: ",")
        let process = try Self.start("sparse-prune", ["sensitivity", scratch.model, "--granularity", "element",
                                                             "--sparsities", sparsities, "--csv", scratch.path("s.csv"),
                                                             "--plot", scratch.path("s.svg"), "--threads", "1"])
        usleep(1_500_000)
        #expect(process.isRunning, "sparse-prune sensitivity ended before it could be interrupted")
        process.interrupt()
        let result = try process.finish(timeout: 30)
        #expect(result.signal == SIGINT, "\(result)")
        #expect(try scratch.contents() == ["model.onnx", "x.npy"])
        #expect(try scratch.bytes(scratch.model) == model)
    }

    /// SIGINT while the temporary file of an export is being written: the
    /// handler removes it and nothing else appears. (Removal is not tested
    /// in-process: it would delete the temporary files of other tests' writes.)
    @Test func sparseRunInterruptedWhileWritingRemovesItsTemporaryFile() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let export = scratch.path("resnet50.onnx")
        // ResNet-50 is about 100 MB of ONNX: its write takes long enough to be caught.
        let process = try Self.start("sparse-run", ["--zoo", "resnet50", "--export", export])
        var sawTemporary = false
        let deadline = Date().addingTimeInterval(300)
        while process.isRunning, Date() < deadline {
            if try scratch.contents().contains(where: { $0.hasSuffix(".tmp") }) {
                sawTemporary = true
                process.interrupt()
                break
            }
            usleep(500)
        }
        let result = try process.finish(timeout: 60)
        if result.signal != nil {
            #expect(result.signal == SIGINT, "\(result)")
            #expect(try scratch.contents() == ["model.onnx", "x.npy"])
        } else {
            // The rename won the race with the signal: the export is whole.
            #expect(result.status == 0, "\(result)")
            #expect(try scratch.contents() == ["model.onnx", "x.npy", "resnet50.onnx"])
            #expect(try Model(onnxFile: export).nodes.count > 50)
        }
        #expect(sawTemporary, "the export finished before its temporary file was seen")
    }

    @Test func outputsThatAreInputsAreRefused() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let model = try scratch.bytes(scratch.model), input = try scratch.bytes(scratch.input)
        let attempts: [(String, [String])] = [
            ("sparse-run", [scratch.model, "--export", scratch.model]),
            ("sparse-run", [scratch.model, "--input", scratch.input, "--output", scratch.input]),
            ("sparse-run", [scratch.model, "--input", scratch.input, "--output", scratch.directory.path + "/./model.onnx"]),
            ("sparse-prune", [scratch.model, "-o", scratch.model, "--granularity", "element", "--sparsity", "0.5", "--force"]),
            ("sparse-prune", [scratch.model, "-o", scratch.path("out.onnx"), "--granularity", "element", "--sparsity", "0.5",
                              "--report", scratch.model]),
            ("sparse-prune", ["sensitivity", scratch.model, "--granularity", "kernel", "--sparsities", "0.5",
                              "--input", scratch.input, "--csv", scratch.input]),
        ]
        for (name, arguments) in attempts {
            let result = try Self.run(name, arguments)
            #expect(result.status == 1, "\(name) \(arguments): \(result)")
            #expect(result.standardError.hasPrefix("error: ") && result.standardError.contains("input file"),
                    "\(name) \(arguments): \(result.standardError)")
            #expect(try scratch.contents() == ["model.onnx", "x.npy"], "\(name) \(arguments)")
        }
        #expect(try scratch.bytes(scratch.model) == model && scratch.bytes(scratch.input) == input)
    }

    /// sparse-bench binds OpenMP's threads one per core unless the
    /// environment says how, and records the binding with its figures.
    @Test func sparseBenchBindsThreadsUnlessTheEnvironmentSays() throws {
        guard Runtime.openMPEnabled else { return }
        let json = FileManager.default.temporaryDirectory.appendingPathComponent("binding-\(UInt64.random(in: 0 ... .max)).json")
        defer { try? FileManager.default.removeItem(at: json) }
        let arguments = ["--suite", "quick", "--layers", "quick.conv1x1.64-32@14", "--granularity", "element",
                         "--sparsities", "0.5", "--repetitions", "1", "--min-time", "0", "--threads", "2", "--json", json.path]
        // The runner's own OMP_PROC_BIND / OMP_PLACES would reach the default case.
        let inherited = ProcessInfo.processInfo.environment
        let unset = inherited["OMP_PROC_BIND"] == nil && inherited["OMP_PLACES"] == nil
        let cases: [([String: String], String)] = [([:], "spread"), (["OMP_PROC_BIND": "close"], "close")]
        for (environment, expected) in cases where unset || !environment.isEmpty {
            let result = try Self.run("sparse-bench", arguments, environment: environment)
            #expect(result.status == 0, "\(environment): \(result)")
            let records = try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [[String: Any]]
            let machine = records?.first?["machine"] as? [String: Any]
            #expect(machine?["thread_binding"] as? String == expected, "\(environment): \(String(describing: machine))")
        }
    }

    @Test func memoryLimitReachesTheProgramsFromFlagAndEnvironment() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let output = scratch.path("y.npy")
        let runs: [(String, [String], [String: String], String)] = [
            ("sparse-run", [scratch.model, "--output", output, "--memory-limit", "4K"], [:], "memory limit of 4096 bytes"),
            ("sparse-run", [scratch.model, "--output", output], [ResourceLimits.environmentVariable: "4K"], "memory limit of 4096 bytes"),
            ("sparse-run", [scratch.model, "--output", output], [ResourceLimits.environmentVariable: "lots"], ResourceLimits.environmentVariable),
            ("sparse-run", [scratch.model, "--output", output, "--memory-limit", "lots"], [:], "--memory-limit"),
            ("sparse-prune", ["inspect", scratch.model, "--memory-limit", "4K"], [:], "memory limit of 4096 bytes"),
        ]
        for (name, arguments, environment, expected) in runs {
            let result = try Self.run(name, arguments, environment: environment)
            #expect(result.status != nil && result.status != 0, "\(arguments) \(environment): \(result)")
            #expect(result.standardError.hasPrefix("error: ") && result.standardError.contains(expected),
                    "\(arguments) \(environment): \(result.standardError)")
            #expect(result.standardError.split(separator: "\n").count == 1, "\(result.standardError)")
        }
        #expect(try scratch.contents() == ["model.onnx", "x.npy"])
        // A generous limit changes nothing.
        let fine = try Self.run("sparse-run", [scratch.model, "--input", scratch.input, "--output", output, "--memory-limit", "1G"])
        #expect(fine.status == 0, "\(fine)")
        #expect(try NumPy.read(contentsOf: output).shape.first == 2)
    }
}

import SparseConv

/// Median of repeated runs after warm-up: robust to the odd slow run.
struct Timer {
    var repetitions: Int
    var minTime: Double
    var warmup = 2

    /// Runs `body` `warmup` times, then at least `repetitions` times and at
    /// least `minTime` seconds; returns the median in milliseconds.
    func medianMilliseconds(_ body: () throws -> Void) rethrows -> Double {
        for _ in 0..<warmup { try body() }
        var samples: [Double] = []
        let clock = ContinuousClock()
        let start = clock.now
        while samples.count < repetitions || (clock.now - start).seconds < minTime {
            let t0 = clock.now
            try body()
            samples.append((clock.now - t0).seconds * 1e3)
            if samples.count >= 10_000 { break }
        }
        samples.sort()
        let mid = samples.count / 2
        return samples.count % 2 == 1 ? samples[mid] : (samples[mid - 1] + samples[mid]) / 2
    }
}

extension Duration {
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) * 1e-18
    }
}

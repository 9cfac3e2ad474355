import Foundation

/// Distiller-style sensitivity analysis: every convolution pruned *alone* at
/// each sparsity, and the relative L2 error of the whole model's output on a
/// fixed probe input recorded. Layers whose error climbs early deserve a
/// lower sparsity (`--layer NAME=S`) or `--exclude`.
public struct SensitivityAnalysis: Sendable {
    /// One measurement.
    public struct Point: Sendable, Equatable {
        public let layer: String
        /// The requested sparsity.
        public let sparsity: Double
        /// The sparsity the layer reached (rounding to whole units).
        public let achieved: Double
        /// Relative L2 error of the model output versus the unpruned model.
        public let error: Double
    }

    public let model: String
    public let granularity: Granularity
    public let sparsities: [Double]
    /// Convolutions analysed, in model order.
    public let layers: [String]
    /// Layer-major, sparsities in the given order.
    public let points: [Point]

    /// Runs the analysis: `layers × sparsities` prunings and model runs.
    /// - Parameters:
    ///   - layers: convolutions to analyse; default every convolution.
    ///   - progress: called before each measurement (for a progress line).
    /// - Throws: `.invalidArgument` for sparsities outside [0, 1] or unknown layers.
    public init(model: Model, granularity: Granularity, sparsities: [Double], norm: PruningNorm = .l1, probe: Tensor,
                layers: [String]? = nil, threads: Int = 0, progress: ((String) -> Void)? = nil) throws {
        for s in sparsities where !(s >= 0 && s <= 1) {
            throw SparseConvError.invalidArgument("sparsity must be in [0, 1], got \(s)")
        }
        let convolutions = model.nodes.compactMap { node -> String? in
            if case .convolution = node.operation { return node.name } else { return nil }
        }
        let selected = layers ?? convolutions
        for name in selected where !convolutions.contains(name) {
            throw SparseConvError.invalidArgument("sensitivity: '\(name)' is not a convolution")
        }
        let reference = try model.evaluate(probe, threads: threads)
        var points: [Point] = []
        for (index, layer) in selected.enumerated() {
            // Everything else excluded so that only this layer changes; the
            // override bypasses the first-layer and depthwise skip rules.
            let others = Set(convolutions).subtracting([layer])
            for sparsity in sparsities {
                progress?("layer \(index + 1)/\(selected.count) \(layer) at \(sparsity)")
                let options = PruningOptions(granularity: granularity, sparsity: 0, norm: norm, overrides: [layer: sparsity],
                                             excluded: others, keepFirst: false, pruneDepthwise: true)
                let (pruned, masks) = try model.pruned(options)
                let error = try pruned.evaluate(probe, threads: threads).relativeError(to: reference)
                points.append(Point(layer: layer, sparsity: sparsity, achieved: masks[layer]?.sparsity ?? 0, error: error))
            }
        }
        self.model = model.name
        self.granularity = granularity
        self.sparsities = sparsities
        self.layers = selected
        self.points = points
    }

    /// `layer,sparsity,achieved_sparsity,relative_error`, one line per point.
    public var csv: String {
        var text = "layer,sparsity,achieved_sparsity,relative_error\n"
        for p in points {
            let name = p.layer.contains(",") || p.layer.contains("\"") ? "\"\(p.layer.replacingOccurrences(of: "\"", with: "\"\""))\"" : p.layer
            text += "\(name),\(p.sparsity),\(String(format: "%.6f", p.achieved)),\(p.error.isFinite ? String(format: "%.6e", p.error) : "inf")\n"
        }
        return text
    }

    /// A self-contained SVG line chart: relative output error (y) against
    /// sparsity (x), one line per layer, legend on the right.
    public var svg: String {
        let width = 900.0, height = 480.0
        let left = 70.0, right = 230.0, top = 40.0, bottom = 50.0
        let plotW = width - left - right, plotH = height - top - bottom
        // Sparsity always spans [0, 1] so that plots of different runs compare.
        let xMin = 0.0, xMax = 1.0
        let xs = (0...10).map { Double($0) / 10 }
        let finite = points.map(\.error).filter(\.isFinite)
        // Round the top up to 1, 2 or 5 × 10^k so that ticks are readable.
        var yMax = max(finite.max() ?? 1, 1e-12)
        let magnitude = pow(10, floor(log10(yMax)))
        yMax = ([1.0, 2.0, 5.0, 10.0].first { $0 * magnitude >= yMax } ?? 10) * magnitude
        func x(_ v: Double) -> Double { left + (v - xMin) / (xMax - xMin) * plotW }
        func y(_ v: Double) -> Double { top + plotH - min(v.isFinite ? v : yMax, yMax) / yMax * plotH }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        func escape(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(f(left + plotW / 2))" y="22" text-anchor="middle" font-size="15">\(escape(model)): sensitivity to \(granularity.rawValue) pruning</text>

            """
        for tick in 0...5 {
            let value = yMax * Double(tick) / 5, py = y(value)
            out += "<line x1=\"\(f(left))\" y1=\"\(f(py))\" x2=\"\(f(left + plotW))\" y2=\"\(f(py))\" stroke=\"#ddd\"/>\n"
            out += "<text x=\"\(f(left - 6))\" y=\"\(f(py + 4))\" text-anchor=\"end\">\(String(format: "%.3g", value))</text>\n"
        }
        for value in xs {
            let px = x(value)
            out += "<line x1=\"\(f(px))\" y1=\"\(f(top))\" x2=\"\(f(px))\" y2=\"\(f(top + plotH))\" stroke=\"#eee\"/>\n"
            out += "<text x=\"\(f(px))\" y=\"\(f(top + plotH + 18))\" text-anchor=\"middle\">\(String(format: "%g", value))</text>\n"
        }
        out += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\" stroke=\"#333\"/>\n"
        out += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 10))\" text-anchor=\"middle\">sparsity</text>\n"
        out += "<text transform=\"translate(16 \(f(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">relative output error (L2)</text>\n"
        for (index, layer) in layers.enumerated() {
            // Golden-angle hues: distinct colours for any number of layers.
            let color = "hsl(\(Int(Double(index) * 137.508) % 360), 65%, 42%)"
            let series = points.filter { $0.layer == layer }
            let path = series.map { "\(f(x($0.sparsity))),\(f(y($0.error)))" }.joined(separator: " ")
            out += "<g><title>\(escape(layer))</title><polyline points=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\"/>\n"
            for p in series {
                out += "<circle cx=\"\(f(x(p.sparsity)))\" cy=\"\(f(y(p.error)))\" r=\"2.5\" fill=\"\(color)\"><title>\(escape(layer)) @ \(p.sparsity): \(String(format: "%.3g", p.error))</title></circle>\n"
            }
            out += "</g>\n"
            let ly = top + 4 + Double(index) * 14
            if ly < height - 10 {
                out += "<line x1=\"\(f(width - right + 12))\" y1=\"\(f(ly))\" x2=\"\(f(width - right + 30))\" y2=\"\(f(ly))\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
                out += "<text x=\"\(f(width - right + 35))\" y=\"\(f(ly + 4))\" font-size=\"10\">\(escape(layer))</text>\n"
            }
        }
        out += "</svg>\n"
        return out
    }
}

/// What `sparse-prune inspect` shows: per convolution, its sparsity and the
/// most regular granularity its zeros fit.
public struct PruningInspection: Sendable {
    public struct Layer: Sendable, Equatable {
        public let name: String
        public let shape: String
        /// Fraction of weights that are zero.
        public let sparsity: Double
        /// The granularity the zeros fit (nil: no zeros).
        public let granularity: Granularity?
        /// Output channels that are provably zero (removable candidates).
        public let zeroChannels: Int
        public let weights: Int
    }

    public let model: String
    public let layers: [Layer]

    public init(model: Model) throws {
        let detected = try model.detectedPruning()
        let dead = model.provablyZeroChannels()
        var rows: [Layer] = []
        for node in model.nodes {
            guard case .convolution(let conv) = node.operation, let spec = try model.convolutionSpec(of: node) else { continue }
            let zeros = conv.weight.scalars.reduce(0) { $0 + ($1 == 0 ? 1 : 0) }
            rows.append(Layer(name: node.name, shape: spec.description, sparsity: Double(zeros) / Double(max(conv.weight.count, 1)),
                              granularity: detected[node.name]?.granularity, zeroChannels: dead[node.name]?.count ?? 0,
                              weights: conv.weight.count))
        }
        self.model = model.name
        layers = rows
    }

    /// Zero weights over all convolution weights.
    public var sparsity: Double {
        let total = layers.reduce(0) { $0 + $1.weights }
        return total > 0 ? layers.reduce(0.0) { $0 + $1.sparsity * Double($1.weights) } / Double(total) : 0
    }

    public var table: String {
        var rows: [[String]] = [["layer", "shape", "weights", "sparsity", "zeros fit", "zero channels"]]
        for l in layers {
            rows.append([l.name, l.shape, PruningReport.count(l.weights), PruningReport.percent(l.sparsity),
                         l.granularity?.rawValue ?? "dense", "\(l.zeroChannels)"])
        }
        rows.append(["total", "", PruningReport.count(layers.reduce(0) { $0 + $1.weights }), PruningReport.percent(sparsity), "", ""])
        return PruningReport.render(rows)
    }
}

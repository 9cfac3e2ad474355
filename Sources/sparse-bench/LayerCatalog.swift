import SparseConv

/// A named convolution shape from a real network.
struct BenchLayer: Sendable {
    let name: String
    let family: String
    let spec: Conv2DSpec
}

/// Real layer shapes (batch 1) from ResNet-50, VGG-16, AlexNet, ResNeXt,
/// MobileNet v1 and a dilated CIFAR net: the built-in list of sparse-bench.
enum LayerCatalog {
    private static func layer(_ name: String, _ family: String, _ cin: Int, _ cout: Int, _ size: Int, _ k: Int,
                              stride: Int = 1, pad: Int = 0, dilation: Int = 1, groups: Int = 1) -> BenchLayer {
        // The catalog is fixed and valid; a failure here is a programming error caught by the tests.
        let spec = try! Conv2DSpec(inChannels: cin, outChannels: cout, inputSize: size, kernelSize: k,
                                   stride: stride, padding: pad, dilation: dilation, groups: groups)
        return BenchLayer(name: name, family: family, spec: spec)
    }

    static let all: [BenchLayer] = [
        layer("resnet50.conv3x3.64@56", "3x3", 64, 64, 56, 3, pad: 1),
        layer("resnet50.conv1x1.256-64@56", "1x1", 256, 64, 56, 1),
        layer("resnet50.conv3x3.128@28", "3x3", 128, 128, 28, 3, pad: 1),
        layer("resnet50.conv3x3.256@14", "3x3", 256, 256, 14, 3, pad: 1),
        layer("resnet50.conv1x1.1024-256@14", "1x1", 1024, 256, 14, 1),
        layer("resnet50.conv3x3.512@7", "3x3", 512, 512, 7, 3, pad: 1),
        layer("vgg16.conv3x3.256@56", "3x3", 256, 256, 56, 3, pad: 1),
        layer("alexnet.conv11x11.3-96@227s4", "11x11", 3, 96, 227, 11, stride: 4),
        layer("alexnet.conv3x3.256@13g2", "grouped", 256, 256, 13, 3, pad: 1, groups: 2),
        layer("dilated.conv3x3.64@56d2", "dilated", 64, 64, 56, 3, pad: 2, dilation: 2),
        layer("resnext.conv3x3.128@56g32", "grouped", 128, 128, 56, 3, pad: 1, groups: 32),
        layer("mobilenet.dw3x3.128@56", "depthwise", 128, 128, 56, 3, pad: 1, groups: 128),
        layer("mobilenet.dw3x3.512@14", "depthwise", 512, 512, 14, 3, pad: 1, groups: 512),
        layer("mobilenet.pw1x1.128@56", "1x1", 128, 128, 56, 1),
        layer("mobilenet.pw1x1.512@14", "1x1", 512, 512, 14, 1),
        layer("resnet50.conv3x3.128@56s2", "strided", 128, 128, 56, 3, stride: 2, pad: 1),
    ]

    /// A handful of small layers for smoke runs (CI).
    static let quick: [BenchLayer] = [
        layer("quick.conv3x3.32@28", "3x3", 32, 32, 28, 3, pad: 1),
        layer("quick.conv1x1.64-32@14", "1x1", 64, 32, 14, 1),
        layer("quick.conv3x3.32@28s2", "strided", 32, 32, 28, 3, stride: 2, pad: 1),
        layer("quick.conv3x3.32@28d2", "dilated", 32, 32, 28, 3, pad: 2, dilation: 2),
        layer("quick.conv3x3.64@14g8", "grouped", 64, 64, 14, 3, pad: 1, groups: 8),
        layer("quick.dw3x3.64@28", "depthwise", 64, 64, 28, 3, pad: 1, groups: 64),
        layer("quick.conv11x11.3-16@63s4", "11x11", 3, 16, 63, 11, stride: 4),
    ]

    /// Question 2: standard convolutions with equal input and output channels,
    /// so that grouped and depthwise-separable replacements keep the shape.
    static let budget: [BenchLayer] = [
        layer("resnet50.conv3x3.64@56", "3x3", 64, 64, 56, 3, pad: 1),
        layer("resnet50.conv3x3.128@28", "3x3", 128, 128, 28, 3, pad: 1),
        layer("resnet50.conv3x3.256@14", "3x3", 256, 256, 14, 3, pad: 1),
        layer("resnet50.conv3x3.512@7", "3x3", 512, 512, 7, 3, pad: 1),
    ]

    /// Question 3: the ungrouped layers whose group count is varied.
    static let groups: [BenchLayer] = [
        layer("groups.conv3x3.128@56", "3x3", 128, 128, 56, 3, pad: 1),
        layer("groups.conv3x3.256@28", "3x3", 256, 256, 28, 3, pad: 1),
    ]

    static let quickBudget: [BenchLayer] = [layer("quick.conv3x3.32@28", "3x3", 32, 32, 28, 3, pad: 1)]
    static let quickGroups: [BenchLayer] = [layer("quick.groups.conv3x3.64@14", "3x3", 64, 64, 14, 3, pad: 1)]
}

// swift-tools-version:6.1
//
// libFuzzer targets for SparseConv's file readers, kept out of the main
// package so that `swift build` and `swift test` never need -sanitize=fuzzer.
// Build and run them with `Scripts/fuzz TARGET SECONDS`.

import PackageDescription

let package = Package(
    name: "SparseConvFuzz",
    dependencies: [.package(name: "SparseConv", path: "..")],
    targets: ["FuzzONNX", "FuzzNumPy", "FuzzWisdom"].map { name in
        // Executables without a main: libFuzzer (linked by -sanitize=fuzzer) supplies it.
        .executableTarget(name: name, dependencies: [.product(name: "SparseConv", package: "SparseConv")],
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])])
    }
)

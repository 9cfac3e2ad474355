// swift-tools-version:6.1
//
// libFuzzer targets for SparseConv's file readers, kept out of the main
// package so that `swift build` and `swift test` never need -sanitize=fuzzer.
// Build and run them with `Scripts/fuzz TARGET SECONDS` (or `Scripts/fuzz all`).
//
// One executable serves all three readers (SPARSECONV_FUZZ=onnx|npy|wisdom
// picks one): the instrumented build is then compiled and linked once.
// The sanitizer flags are not set here but by Scripts/fuzz on the command
// line (-Xswiftc -sanitize=fuzzer,address), because only command-line flags
// reach the SparseConv and SwiftProtobuf targets, whose parsers are what is
// being fuzzed; building only this product keeps libFuzzer's main away from
// the main package's programs.

import PackageDescription

let package = Package(
    name: "SparseConvFuzz",
    dependencies: [.package(name: "SparseConv", path: "..")],
    targets: [
        // An executable without a main: libFuzzer (linked by -sanitize=fuzzer) supplies it.
        .executableTarget(name: "FuzzReaders", dependencies: [.product(name: "SparseConv", package: "SparseConv")],
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
    ]
)

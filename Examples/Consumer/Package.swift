// swift-tools-version:6.1
// A package that uses SparseConv as a dependency, built in CI.
//
// SparseConv's C target needs unsafe compiler flags (-fopenmp), which SwiftPM
// accepts only from path, branch or revision dependencies, not from a version:
//     .package(url: "https://github.com/<owner>/SparseConv", branch: "main")
// Here the repository itself is the dependency, by path.
import PackageDescription

let package = Package(
    name: "Consumer",
    dependencies: [.package(name: "SparseConv", path: "../..")],
    targets: [
        .executableTarget(name: "consumer", dependencies: [.product(name: "SparseConv", package: "SparseConv")]),
    ]
)

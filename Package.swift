// swift-tools-version:6.1
//
// SparseConv: fast dense and sparse 2-D convolutions for pruned CNNs on CPUs.
//
// The C target is compiled with OpenMP when the manifest finds it. Debian's
// `libomp-dev` installs `omp.h` and `libomp.so` under /usr/lib/llvm-<N>/...,
// which the Swift toolchain's clang does not search, so the manifest looks for
// them (newest LLVM first). Override with SPARSECONV_OPENMP_INCLUDE and
// SPARSECONV_OPENMP_LIB, or build serially with SPARSECONV_NO_OPENMP=1.

import Foundation
import PackageDescription

struct OpenMP {
    let includeDirectory: String
    let libraryDirectory: String
}

/// Locates omp.h and libomp.so without assuming an LLVM version.
func locateOpenMP() -> OpenMP? {
    let environment = ProcessInfo.processInfo.environment
    if environment["SPARSECONV_NO_OPENMP"] != nil { return nil }
    let files = FileManager.default
    func exists(_ path: String) -> Bool { files.fileExists(atPath: path) }
    func children(_ path: String) -> [String] { (try? files.contentsOfDirectory(atPath: path)) ?? [] }

    if let include = environment["SPARSECONV_OPENMP_INCLUDE"], let lib = environment["SPARSECONV_OPENMP_LIB"] {
        return OpenMP(includeDirectory: include, libraryDirectory: lib)
    }
    // Order llvm-9 < llvm-14 < llvm-19 numerically, newest first.
    func versionKey(_ name: String) -> [Int] {
        name.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
    }
    let llvmRoots = children("/usr/lib")
        .filter { $0.hasPrefix("llvm-") }
        .sorted { versionKey($0).lexicographicallyPrecedes(versionKey($1)) }
        .reversed()
        .map { "/usr/lib/\($0)/lib" }
    for lib in llvmRoots where exists("\(lib)/libomp.so") {
        let clangDirectory = "\(lib)/clang"
        for version in children(clangDirectory).sorted().reversed() {
            let include = "\(clangDirectory)/\(version)/include"
            if exists("\(include)/omp.h") { return OpenMP(includeDirectory: include, libraryDirectory: lib) }
        }
        let include = "/usr/include/\(lib.split(separator: "/").dropLast().last ?? "")/openmp"
        if exists("\(include)/omp.h") { return OpenMP(includeDirectory: include, libraryDirectory: lib) }
    }
    // Other distributions put both in the standard places.
    for lib in ["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"]
    where exists("\(lib)/libomp.so") {
        for include in ["/usr/include", "/usr/local/include"] where exists("\(include)/omp.h") {
            return OpenMP(includeDirectory: include, libraryDirectory: lib)
        }
    }
    return nil
}

let openMP = locateOpenMP()
if openMP == nil {
    FileHandle.standardError.write(Data("""
        warning: SparseConv: OpenMP (omp.h + libomp.so) not found; the C kernels will build \
        and run SERIALLY. Install it with `apt-get install -y libomp-dev` \
        (or set SPARSECONV_OPENMP_INCLUDE / SPARSECONV_OPENMP_LIB).

        """.utf8))
}

// The kernels are optimized in every configuration so that `swift test` and
// `swift run` are not misleadingly slow; per-ISA code uses function-level
// target attributes, so there is no -march here.
var kernelFlags = ["-O3", "-fno-math-errno", "-Wall", "-Wextra"]
var kernelLinkerFlags: [String] = []
if let openMP {
    kernelFlags += ["-fopenmp", "-I\(openMP.includeDirectory)"]
    // Linking is driven by swiftc, hence -Xlinker rather than -Wl.
    kernelLinkerFlags += ["-L\(openMP.libraryDirectory)", "-Xlinker", "-rpath", "-Xlinker", openMP.libraryDirectory, "-lomp"]
}

let strictSwift: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]
// The library's Swift code (pruning, packing, planning, layer glue) is
// optimized in debug builds too, for the same reason as the C kernels: an
// unoptimized planner makes `swift test` and `swift run` misleadingly slow.
let optimizedSwift: [SwiftSetting] = strictSwift + [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "SparseConv",
    products: [
        .library(name: "SparseConv", targets: ["SparseConv"]),
        .executable(name: "sparse-bench", targets: ["sparse-bench"]),
        .executable(name: "sparse-run", targets: ["sparse-run"]),
        .executable(name: "sparse-prune", targets: ["sparse-prune"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Generated ONNX types (Sources/SparseConv/IO/ONNX) need the 1.39 runtime.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .target(
            name: "CSparseConv",
            cSettings: [
                .headerSearchPath("common"),
                .unsafeFlags(kernelFlags),
            ],
            linkerSettings: [.unsafeFlags(kernelLinkerFlags)]
        ),
        .target(
            name: "SparseConv",
            dependencies: [
                "CSparseConv",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: optimizedSwift
        ),
        .target(
            name: "CommandLineSupport",
            dependencies: [
                "SparseConv",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSwift
        ),
        .executableTarget(
            name: "sparse-bench",
            dependencies: [
                "SparseConv",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSwift
        ),
        .executableTarget(
            name: "sparse-run",
            dependencies: [
                "SparseConv", "CommandLineSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSwift
        ),
        .executableTarget(
            name: "sparse-prune",
            dependencies: [
                "SparseConv", "CommandLineSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "SparseConvTests",
            dependencies: [
                "SparseConv", "CSparseConv",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strictSwift
        ),
    ]
)

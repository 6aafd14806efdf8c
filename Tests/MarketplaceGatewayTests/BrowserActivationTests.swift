import Foundation
import SuiteTesting
import Testing

/// A buyer in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`,
/// driven by selenium from `Tests/Support/browser_activation.py`) walks every branch of the
/// flow on the gateway's reference page, in English and in Simplified Chinese, against the real
/// services. `SUITE_SCREENSHOTS=docs/screenshots` keeps a picture of each step (the README's).
@Suite("the activation page in Chromium", .startsServices)
struct BrowserActivationTests {
  @Test("every branch, in English and in Chinese, ends activated and signed in to the console")
  func everyBranch() async throws {
    // The page's origin is named to every service (CORS), and its scripts' address is the
    // gateway's: both ports are chosen before the services start.
    let landingPort = try await Command.freePort()
    let grpcPort = try await Command.freePort()
    let origin = "http://127.0.0.1:\(landingPort)"
    try await SuiteHarness.with(
      gateway: [
        "LANDING_PORT": String(landingPort), "GRPC_PORT": String(grpcPort),
        "CONSOLE_LOGIN_URL": "/login",
      ],
      everyService: ["BROWSER_ORIGINS": origin]
    ) { suite in
      let screenshots = ProcessInfo.processInfo.environment["SUITE_SCREENSHOTS"].map {
        ProjectPython.packageFile($0)
      }
      // The page's own security: no inline script, nothing from elsewhere, never framed.
      let page = try await Command.run("/usr/bin/curl", ["-si", "\(origin)/activate"]).output
      #expect(page.hasPrefix("HTTP/1.1 200"), "\(page)")
      let policy = try #require(
        page.split(separator: "\r\n").first {
          $0.lowercased().hasPrefix("content-security-policy:")
        }
      )
      #expect(policy.contains("script-src 'self';"))
      #expect(policy.contains("frame-ancestors 'none'"))
      #expect(!policy.contains("unsafe-inline") && !policy.contains("*"))
      // Calls go to the gateway's and the console's public services, and nowhere else.
      let connectSources = policy.split(separator: ";").first { $0.contains("connect-src") }?
        .split(separator: " ").dropFirst().map(String.init)
      #expect(
        Set(connectSources ?? [])
          == ["http://\(suite.console.address)", "http://127.0.0.1:\(grpcPort)"]
      )
      #expect(
        !page.contains("<script>")
          && page.contains(#"<script type="module" src="/activate/app.js">"#)
      )
      for language in ["en", "zh"] {
        var arguments = [
          ProjectPython.packageFile("Tests/Support/browser_activation.py"),
          "--emulator", suite.emulator.base, "--landing", origin, "--console-api",
          "http://\(suite.console.address)",
          "--billing-api", "http://\(suite.billing.address)",
          "--billing-mail", suite.billingMail.directory.path,
          "--console-mail", suite.consoleMail.directory.path, "--lang", language,
        ]
        if let screenshots { arguments += ["--screenshots", screenshots] }
        let (status, output) = try await Command.run(
          try ProjectPython.interpreter(),
          arguments,
          mergingErrors: true,
          timeout: .testPatience * 6
        )
        #expect(status == 0, "\(language):\n\(output)")
        #expect(output.contains("browser: every branch activated"), "\(language):\n\(output)")
      }
    }
  }
}

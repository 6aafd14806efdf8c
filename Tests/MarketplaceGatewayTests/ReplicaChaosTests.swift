import Foundation
import SuiteTesting
import Testing

/// The suite past one machine: two processes of each service on one PostgreSQL, every client
/// given both, while processes are killed and PostgreSQL sessions ended at random
/// (`scripts/chaos.py --replicas 2`, which walks every branch of the flow and counts every
/// outcome at the emulated marketplace and in each service's database).
@Suite("Two replicas of every service while processes are killed", .startsServices)
struct ReplicaChaosTests {
  @Test(
    "every branch's activations, a metered day and the marketplace's changes through two replicas of each service, one process killed and PostgreSQL sessions ended at a time: each exactly once"
  )
  func replicasUnderKills() async throws {
    let (status, output) = try await Command.run(
      try ProjectPython.interpreter(),
      [
        ProjectPython.packageFile("scripts/chaos.py"), "--replicas", "2", "--purchases", "24",
        "--buyers", "4", "--seed", "11", "--bin", ServiceProcess.binaryDirectory.path,
      ],
      mergingErrors: true,
      timeout: .testPatience * 8
    )
    #expect(status == 0, "\(output)")
    // What the run checked, as it reports it: nothing lost, nothing twice.
    #expect(output.contains("each Activate accepted once: yes"), "\(output)")
    #expect(output.contains("24 activations"), "\(output)")
    #expect(output.contains("each workspace changed exactly as asked: yes"), "\(output)")
    #expect(output.contains("a day of usage: 24 metering records"), "\(output)")
  }
}

public import Foundation
import Logging
public import MarketplaceClient
import PostgresNIO
import SuitePersistence

/// An activation saga as stored: which workspace the subscription will pay for and how far
/// the activation has come.
public struct SagaRecord: Sendable, Equatable {
  public var subscriptionID: String
  public var billingAccountID: UUID
  public var workspaceID: UUID
  public var origin: WorkspaceOrigin
  /// Name and site, known once the billing center has settled the workspace.
  public var workspace: BoundWorkspace?
  public var step: SagaStep
  public var retries: Int
  public var problem: String?
  /// The presence of the process running the saga (see `Presence`); nil when nobody does.
  public var runner: Int32?
}

extension GatewayStore {
  static let sagaColumns = """
    g.billing_account_id, g.workspace_id, g.workspace_origin, g.workspace_name, g.workspace_site, g.step,
    g.retries, g.problem, g.runner
    """

  /// SQL true for an unfinished saga that nobody is running: its runner's process died (or
  /// lost its connection), its lease ran out (a runner alive but stuck), or a retry is waiting.
  static let sagaIsFree = """
    g.step IN ('settling', 'activating')
      AND (g.lease_until IS NULL OR g.lease_until < now() OR NOT \(Presence.isAlive("g.runner")))
    """

  /// SQL true for an unfinished saga, for statements that name theirs by subscription: the same
  /// rows as `step IN ('settling', 'activating')` (the table's CHECK allows two other steps),
  /// written so that PostgreSQL cannot read the saga through `activation_sagas_due`, whose
  /// predicate that form matches. It did: the partial index is small when analysed, so the
  /// planner preferred scanning all of it (every saga in flight, and the entries their updates
  /// left until vacuum: 160-180 blocks a call under load, bench/results/scale-changes.md) to one probe
  /// of the primary key.
  static let sagaIsUnfinished = "step NOT IN ('activated', 'failed')"

  /// The saga in a row holding `sagaColumns` (all null when a LEFT JOIN found none).
  static func saga(subscriptionID: String, _ row: PostgresRandomAccessRow) throws -> SagaRecord? {
    guard let account = try row["billing_account_id"].decode(UUID?.self),
      let workspaceID = try row["workspace_id"].decode(UUID?.self),
      let origin = try row["workspace_origin"].decode(String?.self).flatMap(WorkspaceOrigin.init),
      let step = try row["step"].decode(String?.self).flatMap(SagaStep.init)
    else { return nil }
    var workspace: BoundWorkspace?
    if let name = try row["workspace_name"].decode(String?.self),
      let site = try row["workspace_site"].decode(String?.self)
    {
      workspace = BoundWorkspace(id: workspaceID, name: name, site: site)
    }
    return SagaRecord(
      subscriptionID: subscriptionID,
      billingAccountID: account,
      workspaceID: workspaceID,
      origin: origin,
      workspace: workspace,
      step: step,
      retries: try row["retries"].decode(Int.self),
      problem: try row["problem"].decode(String?.self),
      runner: try row["runner"].decode(Int32?.self)
    )
  }

  /// Starts the subscription's saga for this workspace, or finds the one already started.
  /// `claimed` says whether the caller (the process whose presence is `runner`) now holds the
  /// saga and must run it; a saga someone else is running, or one for another workspace, is
  /// returned unclaimed.
  public func beginSaga(
    subscriptionID: String,
    billingAccountID: UUID,
    workspaceID: UUID,
    origin: WorkspaceOrigin,
    runner: Int32,
    lease: Duration,
    correlationID: String
  ) async throws -> (saga: SagaRecord, claimed: Bool) {
    let seconds = Double(lease.components.seconds)
    // The usual case, a saga that does not exist yet, in one statement.
    let inserted = try await database.execute(
      """
      WITH ins AS (
        INSERT INTO activation_sagas (subscription_id, billing_account_id, workspace_id, workspace_origin, step,
          lease_until, runner)
        VALUES (\(subscriptionID), \(billingAccountID), \(workspaceID), \(origin.rawValue), 'settling',
          now() + make_interval(secs => \(seconds)), \(runner))
        ON CONFLICT (subscription_id) DO NOTHING
        RETURNING subscription_id),
      aud AS (
        INSERT INTO subscription_audit (subscription_id, event, detail, correlation_id)
        SELECT subscription_id, 'activation_started', \(workspaceID.uuidString.lowercased()), \(correlationID) FROM ins)
      SELECT count(*)::int FROM ins
      """
    )
    var created = 0
    for try await count in inserted.decode(Int.self) { created = count }
    if created == 1 {
      let saga = SagaRecord(
        subscriptionID: subscriptionID,
        billingAccountID: billingAccountID,
        workspaceID: workspaceID,
        origin: origin,
        workspace: nil,
        step: .settling,
        retries: 0,
        problem: nil,
        runner: runner
      )
      return (saga, true)
    }
    // It exists: take it over if it is unfinished, for this workspace and nobody runs it.
    let logger = self.logger
    return try await database.transaction { connection in
      let rows = try await connection.execute(
        """
        SELECT \(unescaped: Self.sagaColumns), \(unescaped: Self.sagaIsFree) AS free
        FROM activation_sagas g WHERE g.subscription_id = \(subscriptionID) FOR UPDATE
        """,
        logger: logger
      )
      var found: (SagaRecord, Bool)?
      for try await row in rows {
        let columns = row.makeRandomAccess()
        if let saga = try Self.saga(subscriptionID: subscriptionID, columns) {
          found = (saga, try columns["free"].decode(Bool.self))
        }
      }
      guard var (saga, free) = found else { throw GatewayStoreError.noRowReturned }
      guard saga.workspaceID == workspaceID, free else { return (saga, false) }
      try await connection.execute(
        """
        UPDATE activation_sagas SET lease_until = now() + make_interval(secs => \(seconds)), runner = \(runner),
          updated_at = now()
        WHERE subscription_id = \(subscriptionID)
        """,
        logger: logger
      )
      saga.runner = runner
      return (saga, true)
    }
  }

  /// The workspace now pays through the subscription, and the first Activate call is about to
  /// start: both written before that call, in one statement. Returns the Activate calls
  /// started so far; nil when `runner` no longer runs the saga (another process took it over
  /// after this one lost its presence), which must then stop.
  public func markSettledAndRequestActivate(
    _ subscriptionID: String,
    workspace: BoundWorkspace,
    runner: Int32,
    lease: Duration,
    correlationID: String
  ) async throws -> Int? {
    try await requestActivate(
      subscriptionID,
      runner: runner,
      lease: lease,
      correlationID: correlationID,
      settled: (workspace.name, workspace.site, workspace.id.uuidString.lowercased())
    )
  }

  /// Written before each further Activate call; returns how many calls have been started, or
  /// nil when `runner` no longer runs the saga.
  public func recordActivateAttempt(
    _ subscriptionID: String,
    runner: Int32,
    lease: Duration,
    correlationID: String
  )
    async throws -> Int?
  {
    try await requestActivate(
      subscriptionID,
      runner: runner,
      lease: lease,
      correlationID: correlationID,
      settled: nil
    )
  }

  private func requestActivate(
    _ subscriptionID: String,
    runner: Int32,
    lease: Duration,
    correlationID: String,
    settled: (name: String, site: String, id: String)?
  ) async throws -> Int? {
    let seconds = Double(lease.components.seconds)
    // Absent values are sent as untyped NULLs: the casts give them their type.
    let rows = try await database.execute(
      """
      WITH s AS (
        UPDATE activation_sagas SET step = 'activating', activate_attempts = activate_attempts + 1,
          workspace_name = coalesce(\(settled?.name)::text, workspace_name),
          workspace_site = coalesce(\(settled?.site)::text, workspace_site),
          problem = CASE WHEN \(settled != nil) THEN NULL ELSE problem END,
          lease_until = now() + make_interval(secs => \(seconds)), updated_at = now()
        WHERE subscription_id = \(subscriptionID) AND runner = \(runner) AND \(unescaped: Self.sagaIsUnfinished)
        RETURNING activate_attempts),
      aud AS (
        INSERT INTO subscription_audit (subscription_id, event, detail, correlation_id)
        SELECT \(subscriptionID), 'workspace_settled', \(settled?.id)::text, \(correlationID) FROM s
          WHERE \(settled?.id)::text IS NOT NULL
        UNION ALL SELECT \(subscriptionID), 'activate_requested', 'attempt ' || s.activate_attempts, \(correlationID)
          FROM s)
      SELECT activate_attempts FROM s
      """
    )
    for try await attempts in rows.decode(Int.self) { return attempts }
    return nil
  }

  /// The marketplace confirmed the activation: the subscription is Subscribed.
  public func finishSaga(_ subscriptionID: String, correlationID: String) async throws {
    try await database.execute(
      """
      WITH g AS (
        UPDATE activation_sagas SET step = 'activated', lease_until = NULL, runner = NULL, problem = NULL,
          updated_at = now()
        WHERE subscription_id = \(subscriptionID)),
      s AS (
        UPDATE marketplace_subscriptions SET marketplace_status = 'Subscribed', updated_at = now()
        WHERE id = \(subscriptionID))
      INSERT INTO subscription_audit (subscription_id, event, detail, correlation_id)
      VALUES (\(subscriptionID), 'subscription_activated', '', \(correlationID))
      """
    )
  }

  /// A transient failure: the saga is let go and the reconciler tries again after `delay`.
  /// Only by its runner: a saga another process has taken over is left to it.
  public func scheduleRetry(
    _ subscriptionID: String,
    runner: Int32,
    after delay: Duration,
    problem: String,
    correlationID: String
  ) async throws {
    let seconds = Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18
    try await update(
      subscriptionID,
      runner: runner,
      """
      lease_until = NULL, runner = NULL, retries = retries + 1, problem = \(problem),
      next_attempt_at = now() + make_interval(secs => \(seconds))
      """,
      audit: "activation_retry_scheduled",
      detail: problem,
      correlationID: correlationID
    )
  }

  /// The marketplace refused for good: kept for an operator, never retried on its own.
  public func failSaga(
    _ subscriptionID: String,
    runner: Int32,
    problem: String,
    correlationID: String
  ) async throws {
    try await update(
      subscriptionID,
      runner: runner,
      "step = 'failed', lease_until = NULL, runner = NULL, problem = \(problem)",
      audit: "activation_failed",
      detail: problem,
      correlationID: correlationID
    )
  }

  /// The billing center refused the workspace before anything changed there: the saga is
  /// dropped and the activation is back at the workspace step.
  public func abandonSaga(
    _ subscriptionID: String,
    problem: String,
    correlationID: String
  ) async throws {
    let logger = self.logger
    try await database.transaction { connection in
      try await connection.execute(
        "DELETE FROM activation_sagas WHERE subscription_id = \(subscriptionID) AND step = 'settling'",
        logger: logger
      )
      try await Self.audit(
        subscriptionID,
        "activation_abandoned",
        problem,
        correlationID,
        connection,
        logger
      )
    }
  }

  /// Claims up to `limit` unfinished sagas that nobody runs and that are due, with their
  /// subscriptions, for the reconciler running in the process whose presence is `runner`.
  public func claimDueSagas(
    limit: Int,
    runner: Int32,
    lease: Duration
  ) async throws
    -> [(SagaRecord, MarketplaceSubscription)]
  {
    let logger = self.logger
    let seconds = Double(lease.components.seconds)
    return try await database.transaction { connection in
      let rows = try await connection.execute(
        """
        WITH due AS (
          SELECT subscription_id FROM activation_sagas g
          WHERE g.next_attempt_at <= now() AND \(unescaped: Self.sagaIsFree)
          ORDER BY g.next_attempt_at LIMIT \(limit) FOR UPDATE SKIP LOCKED)
        UPDATE activation_sagas g SET lease_until = now() + make_interval(secs => \(seconds)), runner = \(runner),
          updated_at = now()
        FROM due, marketplace_subscriptions s
        WHERE g.subscription_id = due.subscription_id AND s.id = g.subscription_id
        RETURNING \(unescaped: Self.subscriptionColumns), \(unescaped: Self.sagaColumns)
        """,
        logger: logger
      )
      var claimed: [(SagaRecord, MarketplaceSubscription)] = []
      for try await row in rows {
        let columns = row.makeRandomAccess()
        let subscription = try Self.subscription(columns)
        if let saga = try Self.saga(subscriptionID: subscription.id, columns) {
          claimed.append((saga, subscription))
        }
      }
      return claimed
    }
  }

  /// Claims the right to create the subscription's workspace for the process whose presence is
  /// `runner`; false while another call is creating it. A claim whose process died (or lost
  /// its connection), or whose lease ran out, is taken over at once.
  public func claimWorkspaceCreation(
    _ subscriptionID: String,
    runner: Int32,
    lease: Duration
  ) async throws -> Bool {
    let seconds = Double(lease.components.seconds)
    let rows = try await database.execute(
      """
      INSERT INTO workspace_creation_claims AS c (subscription_id, claimed_until, runner)
      VALUES (\(subscriptionID), now() + make_interval(secs => \(seconds)), \(runner))
      ON CONFLICT (subscription_id) DO UPDATE
        SET claimed_until = EXCLUDED.claimed_until, runner = EXCLUDED.runner, claimed_at = now()
        WHERE \(unescaped: Self.creationIsFree)
      RETURNING 1
      """
    )
    for try await _ in rows { return true }
    return false
  }

  /// SQL true for a workspace creation nobody is doing: its process died, or its lease ran out.
  static let creationIsFree = "c.claimed_until < now() OR NOT \(Presence.isAlive("c.runner"))"

  /// Takes over, for the process whose presence is `runner`, up to `limit` workspace creations
  /// nobody is doing and nobody has touched for `settle` (so that a console call the dead
  /// process made has ended). Claims of creations whose saga has begun are done: dropped.
  public func claimAbandonedCreations(
    runner: Int32,
    lease: Duration,
    settle: Duration,
    limit: Int
  ) async throws
    -> [AbandonedWorkspaceCreation]
  {
    let logger = self.logger
    let seconds = Double(lease.components.seconds)
    let settled = Double(settle.components.seconds)
    return try await database.transaction { connection in
      try await connection.execute(
        """
        DELETE FROM workspace_creation_claims c
        WHERE (\(unescaped: Self.creationIsFree))
          AND EXISTS (SELECT 1 FROM activation_sagas g WHERE g.subscription_id = c.subscription_id)
        """,
        logger: logger
      )
      let rows = try await connection.execute(
        """
        WITH due AS (
          SELECT c.subscription_id FROM workspace_creation_claims c
          WHERE (\(unescaped: Self.creationIsFree)) AND c.claimed_at < now() - make_interval(secs => \(settled))
          ORDER BY c.claimed_at LIMIT \(limit) FOR UPDATE SKIP LOCKED)
        UPDATE workspace_creation_claims c
        SET runner = \(runner), claimed_until = now() + make_interval(secs => \(seconds)), claimed_at = now()
        FROM due, marketplace_subscriptions s, purchaser_links l
        WHERE c.subscription_id = due.subscription_id AND s.id = c.subscription_id
          AND l.tenant_id = s.purchaser_tenant_id AND l.object_id = s.purchaser_object_id
        RETURNING \(unescaped: Self.subscriptionColumns), l.billing_account_id
        """,
        logger: logger
      )
      var taken: [AbandonedWorkspaceCreation] = []
      for try await row in rows {
        let columns = row.makeRandomAccess()
        taken.append(
          AbandonedWorkspaceCreation(
            subscription: try Self.subscription(columns),
            billingAccountID: try columns["billing_account_id"].decode(UUID.self)
          )
        )
      }
      return taken
    }
  }

  /// Lets go of a creation without dropping it (the resumer could not finish it now): free for
  /// the next pass, once `settle` has passed again.
  public func letGoOfWorkspaceCreation(_ subscriptionID: String, runner: Int32) async throws {
    try await database.execute(
      """
      UPDATE workspace_creation_claims SET runner = NULL
      WHERE subscription_id = \(subscriptionID) AND runner = \(runner)
      """
    )
  }

  /// Lets go of a creation claim, unless another process has taken it over since.
  public func releaseWorkspaceCreation(_ subscriptionID: String, runner: Int32) async throws {
    try await database.execute(
      "DELETE FROM workspace_creation_claims WHERE subscription_id = \(subscriptionID) AND runner = \(runner)"
    )
  }

  /// Updates an unfinished saga that `runner` still runs, with its audit row; nothing when
  /// another process has taken it over (or finished it) since.
  private func update(
    _ subscriptionID: String,
    runner: Int32,
    _ assignments: FixedQuery,
    audit event: String,
    detail: String,
    correlationID: String
  ) async throws {
    let logger = self.logger
    let query = try assignments.wrapped(adding: subscriptionID) { assignments, subscription in
      """
      UPDATE activation_sagas SET \(assignments), updated_at = now()
      WHERE subscription_id = \(subscription) AND \(Self.sagaIsUnfinished)
      """
    }.wrapped(adding: runner) { update, runner in "\(update) AND runner = \(runner) RETURNING 1" }
    try await database.transaction { connection in
      var updated = false
      for try await _ in try await connection.execute(query, logger: logger) { updated = true }
      guard updated else { return }
      try await Self.audit(subscriptionID, event, detail, correlationID, connection, logger)
    }
  }
}

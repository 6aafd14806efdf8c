public import AccountAccess
public import AccountKit
public import Foundation
import Mailer
import SuiteErrors

/// The billing center's rules: its own accounts, cloud accounts, who pays for which
/// workspace, the usage ledger and daily bills. Free of gRPC and SQL.
public struct GuanceBilling: Sendable {
  /// Who is calling: a signed-in billing center user, or one of the suite's services.
  public enum Caller: Sendable {
    case session(Session)
    case suiteService
  }

  public let catalog: PriceCatalog
  private let store: any BillingStore
  private let directory: any WorkspaceDirectory
  private let hasher: PasswordHasher
  private let sessions: PasswordSessions
  private let challenges: EmailChallenges
  /// How long after midnight (UTC) late usage may still arrive before a day can be closed.
  public let closingGrace: Duration

  public init(
    store: any BillingStore,
    directory: any WorkspaceDirectory,
    hasher: PasswordHasher,
    sessions: PasswordSessions,
    challenges: EmailChallenges,
    catalog: PriceCatalog,
    closingGrace: Duration
  ) {
    self.store = store
    self.directory = directory
    self.hasher = hasher
    self.sessions = sessions
    self.challenges = challenges
    self.catalog = catalog
    self.closingGrace = closingGrace
  }

  // MARK: Callers

  /// The billing account an RPC acts for. A session acts for its own account only (another
  /// account's id is not found, so ids cannot be probed); a suite service names any account.
  public func billingAccountID(requested raw: String, caller: Caller) throws -> UUID {
    let requested = raw.isEmpty ? nil : UUID(uuidString: raw)
    if !raw.isEmpty && requested == nil {
      throw ServiceError.invalid(field: "billing_account_id", "must be a billing account id")
    }
    switch caller {
    case .session(let session):
      guard requested == nil || requested == session.accountID else {
        throw BillingError.billingAccountNotFound(raw)
      }
      return session.accountID
    case .suiteService:
      guard let requested else {
        throw ServiceError.invalid(field: "billing_account_id", "is required")
      }
      return requested
    }
  }

  public func authenticate(bearerToken: String?) async throws -> Session {
    try await sessions.authenticate(bearerToken: bearerToken)
  }

  // MARK: Billing accounts

  public struct Registration: Sendable {
    public var username: String
    public var password: String
    public var email: String
    public var phone: String
    public var company: CompanyInfo
    /// Optional: a retry with the same key (and email) returns the first registration's account.
    public var creationKey: String?

    public init(
      username: String,
      password: String,
      email: String,
      phone: String,
      company: CompanyInfo,
      creationKey: String? = nil
    ) {
      self.username = username
      self.password = password
      self.email = email
      self.phone = phone
      self.company = company
      self.creationKey = creationKey
    }
  }

  public func register(_ registration: Registration) async throws -> BillingAccount {
    var validation = Validation()
    let identity = AccountIdentity.check(
      username: registration.username,
      email: registration.email,
      phone: registration.phone,
      password: registration.password,
      into: &validation
    )
    let company = CompanyProfile.check(registration.company, into: &validation)
    let key = CreationKey.check(registration.creationKey, into: &validation)
    try validation.finish()
    guard let identity else { throw ServiceError.invalid(validation.violations) }
    // A retry of a registration that went through: its username is taken — by this account.
    if let earlier = try await earlierRegistration(key, email: identity.email) { return earlier }
    let hash = try await hasher.hash(registration.password)
    do {
      return try await store.insertAccount(
        NewBillingAccount(
          username: identity.username,
          email: identity.email,
          phone: identity.phone,
          passwordHash: hash,
          company: company,
          creationKey: key
        )
      )
    } catch {
      // A concurrent call with the same key got there first.
      if let earlier = try await earlierRegistration(key, email: identity.email) { return earlier }
      throw error
    }
  }

  /// The account an earlier registration with `key` made, if any; only for the same email, so
  /// that a key is no way to learn about someone else's account.
  private func earlierRegistration(_ key: String?, email: String) async throws -> BillingAccount? {
    guard let key, let earlier = try await store.account(createdWith: key) else { return nil }
    guard earlier.email == email else {
      throw ServiceError.invalid(field: "creation_key", "was used for another account")
    }
    return earlier
  }

  /// Opens a billing center session (username, email or phone, and password).
  public func login(
    login raw: String,
    password: String,
    peer: String
  ) async throws -> (
    token: String, session: Session, account: BillingAccount
  ) {
    let store = self.store
    // A phone as people type it ("+1 415-555-0100") is looked up in its E.164 form.
    let login = (try? PhoneNumber(raw).value) ?? raw
    let (token, session) = try await sessions.login(
      login: login,
      password: password,
      peer: peer,
      find: { try await store.loginCandidate(forLogin: $0) },
      rehash: { try await store.replacePasswordHash(accountID: $0, with: $1) }
    )
    return (token, session, try await account(id: session.accountID))
  }

  public func logout(bearerToken: String?) async throws {
    try await sessions.logout(bearerToken: bearerToken)
  }

  public func account(id: UUID) async throws -> BillingAccount {
    guard let account = try await store.account(id: id) else {
      throw BillingError.billingAccountNotFound(id.uuidString.lowercased())
    }
    return account
  }

  // MARK: Cloud accounts

  public func cloudAccounts(of accountID: UUID) async throws -> [CloudAccount] {
    _ = try await account(id: accountID)
    return try await store.cloudAccounts(billingAccountID: accountID)
  }

  public func findByCloudIdentity(
    _ identity: CloudIdentity?
  ) async throws -> (CloudAccount, BillingAccount)? {
    try await store.cloudAccount(identity: Self.require(identity))
  }

  public func linkCloudAccount(
    _ identity: CloudIdentity?,
    to accountID: UUID,
    subscriptionID rawSubscription: String
  ) async throws -> CloudAccount {
    let identity = try Self.require(identity)
    let subscription = try Self.optionalSubscriptionID(rawSubscription)
    _ = try await account(id: accountID)
    return try await store.linkCloudAccount(identity, to: accountID, subscriptionID: subscription)
  }

  /// Mails a binding code to the email of the account named `username`. Unknown usernames
  /// get a reply of the same shape (a plausible masked address) and no mail.
  public func startBindingVerification(
    username raw: String
  ) async throws -> (
    issued: EmailChallenges.Issued, maskedEmail: String
  ) {
    var validation = Validation()
    let username = validation.check("username") { () throws(FieldProblem) in try Username(raw) }
    try validation.finish()
    guard let username else { throw ServiceError.invalid(validation.violations) }

    let account = try await store.account(username: username.value)
    let issued = try await challenges.issue(
      subject: "username:\(username.value)",
      purpose: PostgresBillingStore.bindingPurpose,
      accountID: account?.id
    ) { code in
      account.map { account in
        OutgoingMail(
          recipient: account.email,
          subject: "Bind your cloud account to Guance billing center",
          body: """
            Hello \(account.username),

            Your verification code for binding a Microsoft cloud account to your Guance billing
            center account is \(code). It expires in 10 minutes.
            If you did not ask for it, ignore this message: nothing is bound without the code.

            """
        )
      }
    }
    return (issued, Self.concealedEmail)
  }

  /// Redeems a binding code and links the cloud identity to the code's billing account, once.
  public func confirmBinding(
    challengeID raw: String,
    code: String,
    username rawUsername: String,
    identity: CloudIdentity?,
    subscriptionID rawSubscription: String
  ) async throws -> (BillingAccount, CloudAccount) {
    var validation = Validation()
    let challengeID = UUID(uuidString: raw)
    validation.require(
      challengeID != nil,
      "challenge_id",
      "must be the challenge_id StartBindingVerification returned"
    )
    validation.require(VerificationCode.isWellFormed(code), "code", "must be the 6-digit code")
    let username = validation.check("username") { () throws(FieldProblem) in
      try Username(rawUsername)
    }
    try validation.finish()
    guard let challengeID, let username else { throw ServiceError.invalid(validation.violations) }
    let identity = try Self.require(identity)
    let subscription = try Self.optionalSubscriptionID(rawSubscription)
    return try await store.linkCloudAccount(
      identity,
      subscriptionID: subscription,
      redeeming: BindingCodeRedemption(
        challengeID: challengeID,
        code: code,
        username: username.value
      )
    )
  }

  // MARK: Workspace bindings

  /// Binds the workspace to the account. A billing center user proves that it controls the
  /// workspace with a console session of the workspace's owner (`ownerSession`): a workspace
  /// it cannot prove it controls is not found, exactly as an unknown id is (an id is no
  /// secret). The suite's services have checked control themselves (the activation binds the
  /// workspace it created for its buyer). With `purchaser` (cloud settlement, suite services
  /// only), the settlement's subscription is first linked to that purchaser's cloud account,
  /// in the same transaction: the activation flow's one call.
  public func bindWorkspace(
    _ rawWorkspace: String,
    to accountID: UUID,
    settlement: Settlement?,
    linking purchaser: CloudIdentity? = nil,
    caller: Caller = .suiteService,
    ownerSession rawOwnerSession: String = ""
  ) async throws -> WorkspaceBinding {
    let workspaceID = try Self.workspaceID(rawWorkspace)
    let settlement = try Self.require(settlement, linking: purchaser)
    let ownerSession = try Self.ownerSession(rawOwnerSession, linking: purchaser, caller: caller)
    _ = try await account(id: accountID)
    guard let workspace = try await directory.workspace(id: workspaceID, ownerSession: ownerSession)
    else {
      throw BillingError.workspaceNotFound(rawWorkspace)
    }
    guard workspace.status != .closed else { throw BillingError.workspaceClosed(rawWorkspace) }
    if case .cloudAccount = settlement, catalog.currency != "USD" {
      throw BillingError.currencyNotAllowed(catalog.currency)
    }
    var binding = try await store.bind(
      workspace,
      to: accountID,
      settlement: settlement,
      linking: purchaser
    )
    binding.status = workspace.status
    return binding
  }

  /// The account's workspaces with their current status from the console.
  public func boundWorkspaces(of accountID: UUID) async throws -> [WorkspaceBinding] {
    _ = try await account(id: accountID)
    let bindings = try await store.bindings(billingAccountID: accountID)
    let directory = self.directory
    return try await withThrowingTaskGroup(of: (Int, DirectoryWorkspace?).self) { group in
      for (index, binding) in bindings.enumerated() {
        group.addTask { (index, try await directory.workspace(id: binding.workspaceID)) }
      }
      var result = bindings
      for try await (index, workspace) in group {
        result[index].status = workspace?.status ?? .closed
        if let workspace { result[index].workspaceName = workspace.name }
      }
      return result
    }
  }

  /// Changes how the workspace is paid for; `purchaser` as in `bindWorkspace`.
  public func changeSettlement(
    _ rawWorkspace: String,
    of accountID: UUID,
    to settlement: Settlement?,
    linking purchaser: CloudIdentity? = nil,
    caller: Caller = .suiteService
  ) async throws -> WorkspaceBinding {
    let workspaceID = try Self.workspaceID(rawWorkspace)
    let settlement = try Self.require(settlement, linking: purchaser)
    try Self.refuseLinking(purchaser, by: caller)
    return try await store.changeSettlement(
      workspaceID: workspaceID,
      of: accountID,
      to: settlement,
      linking: purchaser
    )
  }

  public func unbind(_ rawWorkspace: String, from accountID: UUID) async throws {
    try await store.unbind(workspaceID: try Self.workspaceID(rawWorkspace), from: accountID)
  }

  // MARK: Usage and bills

  /// A usage event as received, before validation.
  public struct RawUsageEvent: Sendable {
    public var idempotencyKey: String
    public var workspaceID: String
    public var billingItem: String
    public var quantity: String
    public var usageTime: Date?

    public init(
      idempotencyKey: String,
      workspaceID: String,
      billingItem: String,
      quantity: String,
      usageTime: Date?
    ) {
      self.idempotencyKey = idempotencyKey
      self.workspaceID = workspaceID
      self.billingItem = billingItem
      self.quantity = quantity
      self.usageTime = usageTime
    }
  }

  public static let maxUsageBatch = 1000
  /// Usage older than this is refused: its day has long been billed.
  public static let maxUsageAge: TimeInterval = 30 * 86400

  /// Records a batch: every event valid or nothing is written.
  public func recordUsage(_ raw: [RawUsageEvent], now: Date = Date()) async throws -> [UsageResult]
  {
    var validation = Validation()
    validation.require(
      (1...Self.maxUsageBatch).contains(raw.count),
      "events",
      "must hold 1 to \(Self.maxUsageBatch) events"
    )
    var events: [UsageEvent] = []
    events.reserveCapacity(raw.count)
    for (index, event) in raw.enumerated() where validation.violations.count < 20 {
      let field = "events[\(index)]"
      let keyOK = event.idempotencyKey.isPrintableASCII(length: 1...255)
      validation.require(
        keyOK,
        "\(field).idempotency_key",
        "must be 1 to 255 printable ASCII characters"
      )
      let workspace = UUID(uuidString: event.workspaceID)
      validation.require(workspace != nil, "\(field).workspace_id", "must be a workspace id")
      validation.require(
        catalog.item(event.billingItem) != nil,
        "\(field).billing_item",
        "must be one of: \(catalog.items.map(\.code).joined(separator: ", "))"
      )
      let quantity = Quantity.parse(event.quantity)
      validation.require(
        quantity != nil,
        "\(field).quantity",
        "must be a non-negative decimal with at most 6 decimals"
      )
      let time = event.usageTime
      validation.require(
        time.map { Self.isRecent($0, now: now) } ?? false,
        "\(field).usage_time",
        "is required, not in the future and at most 30 days old"
      )
      if keyOK, let workspace, let quantity, let time {
        events.append(
          UsageEvent(
            idempotencyKey: event.idempotencyKey,
            workspaceID: workspace,
            billingItem: event.billingItem,
            quantity: quantity,
            usageTime: time
          )
        )
      }
    }
    try validation.finish()
    return try await store.recordUsage(events)
  }

  /// Rates `day` into bill lines and metering records, once; an error if the day (with its
  /// grace period) is not over yet.
  public func closeDay(_ raw: String, now: Date = Date()) async throws -> DayClosing {
    guard let day = BillingDay(raw) else {
      throw ServiceError.invalid(field: "day", "must be a date as YYYY-MM-DD")
    }
    guard day.end.addingTimeInterval(Double(closingGrace.components.seconds)) <= now else {
      throw BillingError.dayNotOver(raw)
    }
    let catalog = self.catalog
    return try await store.closeDay(day, catalogVersion: catalog.version) { usage in
      try Self.rate(usage, day: day, catalog: catalog)
    }
  }

  /// Closes every day with usage whose grace period is over (the background closer's pass).
  public func closeDueDays(now: Date = Date()) async throws -> [BillingDay: DayClosing] {
    let cutoff = now.addingTimeInterval(-Double(closingGrace.components.seconds))
    var closed: [BillingDay: DayClosing] = [:]
    for day in try await store.daysAwaitingClosure(endedBefore: cutoff) {
      closed[day] = try await closeDay(day.description, now: now)
    }
    return closed
  }

  /// Prices each line; cloud-settled lines are also summed per subscription and dimension
  /// into one metering record for the hour the day ends (within the marketplace's 24 hours).
  static func rate(
    _ usage: [DayUsage],
    day: BillingDay,
    catalog: PriceCatalog
  ) throws -> (
    lines: [BillLine], metering: [MeteringRecord]
  ) {
    var lines: [BillLine] = []
    var metered: [String: (subscription: String, dimension: String, units: Decimal)] = [:]
    for entry in usage {
      // Items are checked when recorded; one missing now means the catalog lost an item.
      guard let item = catalog.item(entry.billingItem) else {
        throw BillingError.unknownBillingItem(entry.billingItem)
      }
      // Usage while the subscription was suspended stays on the bill, unbilled: the
      // marketplace is not charged for it, and nobody else is either.
      let unbilled = entry.duringSuspension ? "subscription_suspended" : nil
      lines.append(
        BillLine(
          day: day.description,
          billingAccountID: entry.billingAccountID,
          workspaceID: entry.workspaceID,
          site: entry.site,
          settlement: entry.settlement,
          billingItem: item.code,
          quantity: entry.quantity,
          unitSize: item.unitSize,
          unitPriceMicros: item.unitPriceMicros,
          amountMicros: unbilled != nil
            ? 0
            : Quantity.amountMicros(
              quantity: entry.quantity,
              unitSize: item.unitSize,
              unitPriceMicros: item.unitPriceMicros
            ),
          currency: catalog.currency,
          unbilledReason: unbilled
        )
      )
      if let subscription = entry.settlement?.subscriptionID, unbilled == nil {
        let key = MeteringRecord.key(
          subscriptionID: subscription,
          dimension: item.dimension,
          hour: day.end
        )
        metered[key, default: (subscription, item.dimension, 0)].units +=
          entry.quantity / Decimal(item.unitSize)
      }
    }
    let metering = metered.sorted { $0.key < $1.key }.compactMap { key, value -> MeteringRecord? in
      let units = Quantity.units(quantity: value.units, unitSize: 1)
      guard units > 0 else { return nil }
      return MeteringRecord(
        key: key,
        subscriptionID: value.subscription,
        dimension: value.dimension,
        effectiveStartTime: day.end,
        quantity: units,
        attempts: 0
      )
    }
    return (lines, metering)
  }

  public func dailyBill(of accountID: UUID, day raw: String) async throws -> DailyBill {
    guard let day = BillingDay(raw) else {
      throw ServiceError.invalid(field: "day", "must be a date as YYYY-MM-DD")
    }
    _ = try await account(id: accountID)
    guard let bill = try await store.bills(billingAccountID: accountID, days: day...day).first
    else {
      throw BillingError.dayNotClosed(raw)
    }
    return bill
  }

  public func bills(of accountID: UUID, month raw: String) async throws -> [DailyBill] {
    guard let days = BillingDay.month(raw) else {
      throw ServiceError.invalid(field: "month", "must be a month as YYYY-MM")
    }
    _ = try await account(id: accountID)
    return try await store.bills(billingAccountID: accountID, days: days)
  }

  /// Follows a marketplace subscription's status (the gateway calls this on Suspend,
  /// Reinstate and Unsubscribe); `at` is when the marketplace made the change.
  public func setSubscriptionStatus(
    _ rawID: String,
    to status: CloudSubscriptionStatus?,
    at: Date?,
    now: Date = Date()
  )
    async throws -> SubscriptionStatusChange
  {
    let id = try Self.subscriptionID(rawID)
    guard let status else {
      throw ServiceError.invalid(field: "status", "must be ACTIVE, SUSPENDED or UNSUBSCRIBED")
    }
    let effective = at ?? now
    guard Self.isRecent(effective, now: now) else {
      throw ServiceError.invalid(
        field: "effective_at",
        "must not be in the future nor more than 30 days old"
      )
    }
    return try await store.setSubscriptionStatus(subscriptionID: id, to: status, at: effective)
  }

  /// Metering records of any status in key order, filtered as asked, a page at a time.
  public func meteringRecords(
    status: MeteringRecord.Status?,
    day rawDay: String,
    subscriptionID rawSubscription: String,
    afterKey: String,
    limit raw: Int
  ) async throws -> [MeteringRecord] {
    var validation = Validation()
    validation.require((0...1000).contains(raw), "limit", "must be 1 to 1000 (0 means 100)")
    let day = rawDay.isEmpty ? nil : BillingDay(rawDay)
    validation.require(rawDay.isEmpty || day != nil, "day", "must be a date as YYYY-MM-DD")
    // Empty means any subscription; anything else must look like one.
    let subscription = rawSubscription.isEmpty ? nil : try? Self.subscriptionID(rawSubscription)
    validation.require(
      rawSubscription.isEmpty || subscription != nil,
      "marketplace_subscription_id",
      "must be a marketplace subscription id"
    )
    validation.require(afterKey.utf8.count <= 255, "after_key", "must be a metering record key")
    try validation.finish()
    return try await store.meteringRecords(
      status: status,
      day: day,
      subscriptionID: subscription,
      afterKey: afterKey.isEmpty ? nil : afterKey,
      limit: raw == 0 ? 100 : raw
    )
  }

  /// Resubmits or parks one record; a delivered record is refused (it is billed already).
  public func setDisposition(
    _ disposition: MeteringRecord.Disposition?,
    ofRecord key: String,
    reason: String
  )
    async throws -> MeteringRecord
  {
    var validation = Validation()
    validation.require((1...255).contains(key.utf8.count), "key", "must be a metering record key")
    validation.require(disposition != nil, "disposition", "must be RESUBMIT or PARK")
    validation.require(reason.count <= 500, "reason", "must be at most 500 characters")
    try validation.finish()
    guard let disposition else {
      throw ServiceError.invalid(field: "disposition", "must be RESUBMIT or PARK")
    }
    return try await store.setDisposition(disposition, ofRecord: key, reason: reason)
  }

  public func pendingMeteringRecords(limit raw: Int) async throws -> [MeteringRecord] {
    guard (0...1000).contains(raw) else {
      throw ServiceError.invalid(field: "limit", "must be 1 to 1000 (0 means 100)")
    }
    return try await store.pendingMeteringRecords(limit: raw == 0 ? 100 : raw)
  }

  public func acknowledge(_ acknowledgements: [MeteringAcknowledgement?]) async throws -> [String] {
    var validation = Validation()
    validation.require(
      (1...1000).contains(acknowledgements.count),
      "acknowledgements",
      "must hold 1 to 1000 entries"
    )
    for (index, ack) in acknowledgements.enumerated() {
      validation.require(ack != nil, "acknowledgements[\(index)]", "needs a key and an outcome")
    }
    try validation.finish()
    return try await store.acknowledge(acknowledgements.compactMap { $0 })
  }

  // MARK: Field checks

  private static func workspaceID(_ raw: String) throws -> UUID {
    guard let id = UUID(uuidString: raw) else {
      throw ServiceError.invalid(field: "workspace_id", "must be a workspace id")
    }
    return id
  }

  /// Linking a purchaser's cloud account is the activation's (the marketplace vouched for the
  /// purchaser there): a billing center user could otherwise claim anyone's subscription.
  private static func refuseLinking(_ purchaser: CloudIdentity?, by caller: Caller) throws {
    guard purchaser != nil, case .session = caller else { return }
    throw ServiceError.invalid(field: "link_purchaser", "is for the suite's services only")
  }

  /// The console session a caller proves control of a workspace with: required of billing
  /// center users, optional for the suite's services.
  private static func ownerSession(
    _ raw: String,
    linking purchaser: CloudIdentity?,
    caller: Caller
  ) throws -> String? {
    try refuseLinking(purchaser, by: caller)
    if case .session = caller, raw.isEmpty {
      throw ServiceError.invalid(
        field: "workspace_owner_session",
        "is required: a console session of the workspace's owner (WorkspaceConsoleService/Login)"
      )
    }
    guard !raw.isEmpty else { return nil }
    guard raw.isPrintableASCII(length: 1...512) else {
      throw ServiceError.invalid(
        field: "workspace_owner_session",
        "must be a console session token"
      )
    }
    return raw
  }

  private static func require(_ identity: CloudIdentity?) throws -> CloudIdentity {
    guard let identity else {
      throw ServiceError.invalid(
        field: "identity",
        "needs provider AZURE and the purchaser's tenant_id and object_id"
      )
    }
    return identity
  }

  private static func require(
    _ settlement: Settlement?,
    linking purchaser: CloudIdentity? = nil
  ) throws
    -> Settlement
  {
    guard let settlement else {
      throw ServiceError.invalid(
        field: "settlement",
        "needs a method; CLOUD_ACCOUNT also needs the marketplace_subscription_id"
      )
    }
    if purchaser != nil, settlement.subscriptionID == nil {
      throw ServiceError.invalid(field: "link_purchaser", "goes only with CLOUD_ACCOUNT settlement")
    }
    return settlement
  }

  /// Not in the future (5 minutes of clock skew allowed) and at most `maxUsageAge` old.
  private static func isRecent(_ time: Date, now: Date) -> Bool {
    time <= now.addingTimeInterval(300) && time >= now.addingTimeInterval(-maxUsageAge)
  }

  /// A marketplace subscription id, or nil when left empty.
  private static func optionalSubscriptionID(_ raw: String) throws -> String? {
    raw.isEmpty ? nil : try subscriptionID(raw)
  }

  private static func subscriptionID(_ raw: String) throws -> String {
    guard raw.isPrintableASCII(length: 1...128) else {
      throw ServiceError.invalid(
        field: "marketplace_subscription_id",
        "must be a marketplace subscription id"
      )
    }
    return raw
  }

  /// Where a binding code went, as every reply shows it. Anything derived from the account's
  /// email (its first letter, its domain) tells an existing account from an unknown one, however
  /// plausible the decoy: so no reply says anything about the address.
  static let concealedEmail = "***@***"
}

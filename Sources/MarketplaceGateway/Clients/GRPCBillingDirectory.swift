public import AccountKit
public import Foundation
public import GRPCCore
import GRPCProtobuf
import GuanceContracts
public import MarketplaceClient
import SuiteErrors
import SuiteRPC
import SwiftProtobuf

/// billing-center's account, cloud-account and binding RPCs as the gateway's
/// `BillingDirectory`. Silence (unavailable, deadline) becomes `DependencyUnavailable`;
/// refusals pass through as the billing center said them.
public struct GRPCBillingDirectory<Transport: ClientTransport>: BillingDirectory {
  private let client: Guance_Billing_V1_BillingInternalService.Client<Transport>
  private let center: Guance_Billing_V1_BillingCenterService.Client<Transport>
  private let calls: ServiceCalls

  /// `timeout`: each call's deadline (`BILLING_TIMEOUT_SECONDS`).
  public init(
    client: GRPCClient<Transport>,
    internalCredential: String,
    timeout: Duration = .seconds(5)
  ) {
    self.client = .init(wrapping: client)
    self.center = .init(wrapping: client)
    self.calls = ServiceCalls(
      to: "billing center",
      internalCredential: internalCredential,
      timeout: timeout
    )
  }

  /// A purchaser as the billing center names cloud identities (Microsoft's marketplace: Azure).
  private static func azureIdentity(
    tenantID: String,
    objectID: String
  ) -> Guance_Billing_V1_CloudIdentity {
    .with {
      $0.provider = .azure
      $0.tenantID = tenantID
      $0.objectID = objectID
    }
  }

  public func linkedAccount(
    tenantID: String,
    objectID: String
  ) async throws -> LinkedBillingAccount? {
    let reply = try await calls.dependency {
      try await client.findBillingAccountByCloudAccount(
        .with {
          $0.identity = Self.azureIdentity(tenantID: tenantID, objectID: objectID)
        },
        metadata: calls.credential,
        options: calls.options
      )
    }
    guard reply.hasBillingAccount, let id = UUID(uuidString: reply.billingAccount.id) else {
      return nil
    }
    return LinkedBillingAccount(id: id, username: reply.billingAccount.username)
  }

  public func startBinding(username: String) async throws -> BindingChallenge {
    let reply = try await renamingFields(["username": "billing_username"]) {
      try await calls.dependency {
        try await center.startBindingVerification(
          .with { $0.username = username },
          metadata: calls.credential,
          options: calls.options
        )
      }
    }
    return BindingChallenge(
      challengeID: reply.challengeID,
      maskedEmail: reply.maskedEmail,
      resendAfterSeconds: Int(reply.resendAfterSeconds)
    )
  }

  public func confirmBinding(
    challengeID: String,
    code: String,
    username: String,
    tenantID: String,
    objectID: String,
    subscriptionID: String
  ) async throws -> LinkedBillingAccount {
    let reply = try await calls.dependency {
      try await client.confirmBinding(
        .with {
          $0.challengeID = challengeID
          $0.code = code
          $0.username = username
          $0.identity = Self.azureIdentity(tenantID: tenantID, objectID: objectID)
          $0.marketplaceSubscriptionID = subscriptionID
        },
        metadata: calls.credential,
        options: calls.options
      )
    }
    guard let id = UUID(uuidString: reply.billingAccount.id) else {
      throw RPCError(code: .internalError, message: "billing center answered without an account id")
    }
    return LinkedBillingAccount(id: id, username: reply.billingAccount.username)
  }

  public func workspaces(of billingAccountID: UUID) async throws -> [BindableWorkspace] {
    let reply = try await calls.dependency {
      try await center.listBoundWorkspaces(
        .with { $0.billingAccountID = billingAccountID.uuidString.lowercased() },
        metadata: calls.credential,
        options: calls.options
      )
    }
    // A workspace another marketplace subscription pays for stays with it: not offered.
    return reply.bindings.filter { $0.settlement.method != .cloudAccount }.map { binding in
      let status =
        switch binding.status {
        case .active: "active"
        case .suspended: "suspended"
        case .closed: "closed"
        default: "unknown"
        }
      return BindableWorkspace(
        id: binding.workspaceID,
        name: binding.workspaceName,
        site: binding.site,
        status: status
      )
    }
  }

  public func register(
    _ account: NewAccount,
    company: CompanyInformation,
    creationKey: String
  ) async throws
    -> LinkedBillingAccount
  {
    let reply: Guance_Billing_V1_RegisterBillingAccountResponse
    do {
      // Only the register branch registers: its account fields are the request's `basic`.
      let paths = Dictionary(
        uniqueKeysWithValues: ["username", "password", "email", "phone"].map { ($0, "basic.\($0)") }
      )
      reply = try await renamingFields(paths) {
        try await calls.dependency {
          try await center.registerBillingAccount(
            .with {
              $0.username = account.username
              $0.password = account.password
              $0.email = account.email
              $0.phone = account.phone
              $0.company = .with {
                $0.companyName = company.companyName
                $0.industry = company.industry
                $0.region = company.region
                $0.contactName = company.contactName
                $0.description_p = company.description
              }
              $0.creationKey = creationKey
            },
            options: calls.options
          )
        }
      }
    } catch let error as RPCError where refusesCreationKey(error) {
      throw ActivationError.billingAccountRegisteredWithOtherDetails
    }
    guard let id = UUID(uuidString: reply.billingAccount.id) else {
      throw RPCError(code: .internalError, message: "billing center answered without an account id")
    }
    return LinkedBillingAccount(id: id, username: reply.billingAccount.username)
  }

  public func link(
    billingAccountID: UUID,
    tenantID: String,
    objectID: String,
    subscriptionID: String
  ) async throws {
    _ = try await calls.dependency {
      try await client.linkCloudAccount(
        .with {
          $0.billingAccountID = billingAccountID.uuidString.lowercased()
          $0.identity = Self.azureIdentity(tenantID: tenantID, objectID: objectID)
          $0.marketplaceSubscriptionID = subscriptionID
        },
        metadata: calls.credential,
        options: calls.options
      )
    }
  }

  public func settle(
    workspaceID: UUID,
    origin: WorkspaceOrigin,
    billingAccountID: UUID,
    subscriptionID: String,
    purchaser: MarketplaceIdentity
  ) async throws -> BoundWorkspace {
    let identity = Self.azureIdentity(tenantID: purchaser.tenantID, objectID: purchaser.objectID)
    let account = billingAccountID.uuidString.lowercased()
    let workspace = workspaceID.uuidString.lowercased()
    let settlement = Guance_Billing_V1_Settlement.with {
      $0.method = .cloudAccount
      $0.marketplaceSubscriptionID = subscriptionID
    }
    let binding = try await calls.dependency {
      switch origin {
      case .created:
        try await center.bindWorkspace(
          .with {
            $0.billingAccountID = account
            $0.workspaceID = workspace
            $0.settlement = settlement
            $0.linkPurchaser = identity
          },
          metadata: calls.credential,
          options: calls.options
        ).binding
      case .existing:
        try await center.changeSettlementMethod(
          .with {
            $0.billingAccountID = account
            $0.workspaceID = workspace
            $0.settlement = settlement
            $0.linkPurchaser = identity
          },
          metadata: calls.credential,
          options: calls.options
        ).binding
      }
    }
    return BoundWorkspace(id: workspaceID, name: binding.workspaceName, site: binding.site)
  }
}

extension ServiceCalls {
  /// Runs one call, its silence thrown as `DependencyUnavailable` (the activation tries again
  /// later) and its refusals passed through unchanged.
  func dependency<Result>(_ body: () async throws -> Result) async throws -> Result {
    try await call(
      whenSilent: { DependencyUnavailable(service: service, reason: "\($0.code): \($0.message)") },
      body
    )
  }
}

/// Another service's refusal of fields, named by the activation request's own field paths (a
/// page maps errors to its inputs by them): `paths` maps the service's field names to the
/// request's, and fields it does not list keep theirs. The refusal's reason stays; a refusal of
/// `creation_key` (the gateway's own field, not the buyer's) passes through unchanged.
func renamingFields<Result>(
  _ paths: [String: String],
  _ body: () async throws -> Result
) async throws -> Result {
  do {
    return try await body()
  } catch let error as RPCError
    where [.invalidArgument, .alreadyExists].contains(error.code) && !refusesCreationKey(error)
  {
    guard let status = try? error.unpackGoogleRPCStatus() else { throw error }
    let violations = status.details.compactMap(\.badRequest).flatMap(\.violations).map {
      FieldViolation(field: paths[$0.field] ?? $0.field, description: $0.violationDescription)
    }
    guard let first = violations.first else { throw error }
    let renamed =
      error.code == .alreadyExists
      ? ServiceError(.alreadyExists(field: first.field), error.message) : .invalid(violations)
    throw status.details.compactMap(\.errorInfo).first.map { renamed.because($0.reason) } ?? renamed
  }
}

/// A service's refusal of a creation key it already used for another owner (console) or
/// another email (billing center): an earlier call with this key, whose answer was lost,
/// created something for other details than this call's.
func refusesCreationKey(_ error: RPCError) -> Bool {
  guard error.code == .invalidArgument, let status = try? error.unpackGoogleRPCStatus() else {
    return false
  }
  return status.details.compactMap(\.badRequest).flatMap(\.violations).contains {
    $0.field == "creation_key"
  }
}

extension GRPCBillingDirectory: SubscriptionSettlements {
  public func follow(
    subscriptionID: String,
    status: SettlementStatus,
    at: Date
  ) async throws -> SettlementOutcome? {
    do {
      let reply = try await calls.dependency {
        try await client.setSubscriptionStatus(
          .with {
            $0.marketplaceSubscriptionID = subscriptionID
            $0.status =
              switch status {
              case .active: .active
              case .suspended: .suspended
              case .unsubscribed: .unsubscribed
              }
            $0.effectiveAt = Google_Protobuf_Timestamp(date: at)
          },
          metadata: calls.credential,
          options: calls.options
        )
      }
      let outcome: SettlementStatus =
        switch reply.status {
        case .suspended: .suspended
        case .unsubscribed: .unsubscribed
        case .active, .unspecified, .UNRECOGNIZED: .active
        }
      return SettlementOutcome(status: outcome, workspaceIDs: reply.workspaceIds)
    } catch let error as RPCError where error.code == .notFound {
      return nil
    } catch let error as RPCError
      where [.invalidArgument, .failedPrecondition, .outOfRange].contains(error.code)
    {
      throw DependencyRefused(service: "billing center", reason: error.message)
    }
  }
}

extension GRPCBillingDirectory: MeteringLedger {
  public func pendingRecords(limit: Int) async throws -> [MeteringRecord] {
    let reply = try await calls.dependency {
      try await client.listPendingMeteringRecords(
        .with { $0.limit = Int32(limit) },
        metadata: calls.credential,
        options: calls.options
      )
    }
    return reply.records.compactMap(MeteringRecord.init)
  }

  public func records(
    status: MeteringRecord.Status?,
    day: String?,
    subscriptionID: String?,
    afterKey: String?,
    limit: Int
  ) async throws -> [MeteringRecord] {
    let reply = try await calls.dependency {
      try await client.listMeteringRecords(
        .with {
          $0.status = status.map(Guance_Billing_V1_MeteringRecordStatus.init) ?? .unspecified
          $0.day = day ?? ""
          $0.marketplaceSubscriptionID = subscriptionID ?? ""
          $0.afterKey = afterKey ?? ""
          $0.limit = Int32(limit)
        },
        metadata: calls.credential,
        options: calls.options
      )
    }
    return reply.records.compactMap(MeteringRecord.init)
  }

  public func record(_ verdicts: [MeteringVerdict]) async throws {
    // The billing center takes 1,000 acknowledgements a call.
    for start in stride(from: 0, to: verdicts.count, by: 1000) {
      let chunk = verdicts[start..<min(start + 1000, verdicts.count)]
      _ = try await calls.dependency {
        try await client.acknowledgeMeteringRecords(
          .with {
            $0.acknowledgements = chunk.map { verdict in
              .with {
                $0.key = verdict.key
                $0.outcome =
                  switch verdict.outcome {
                  case .accepted: .accepted
                  case .duplicate: .duplicate
                  case .rejected: .rejected
                  case .retry: .retry
                  }
                $0.marketplaceStatus = verdict.marketplaceStatus
                $0.message = verdict.message
              }
            }
          },
          metadata: calls.credential,
          options: calls.options
        )
      }
    }
  }

  public func dispose(key: String, resubmit: Bool, reason: String) async throws -> MeteringRecord {
    let reply = try await calls.dependency {
      try await client.setMeteringRecordDisposition(
        .with {
          $0.key = key
          $0.disposition = resubmit ? .resubmit : .park
          $0.reason = reason
        },
        metadata: calls.credential,
        options: calls.options
      )
    }
    guard let record = MeteringRecord(reply.record) else {
      throw DependencyUnavailable(service: "billing center", reason: "unreadable metering record")
    }
    return record
  }
}

extension MeteringRecord {
  /// Nil for a record the billing center sent without a status it knows.
  init?(_ record: Guance_Billing_V1_MeteringRecord) {
    let status: Status
    switch record.status {
    case .pending: status = .pending
    case .accepted: status = .accepted
    case .duplicate: status = .duplicate
    case .rejected: status = .rejected
    case .parked: status = .parked
    case .unspecified, .UNRECOGNIZED: return nil
    }
    self.init(
      key: record.key,
      subscriptionID: record.marketplaceSubscriptionID,
      dimension: record.dimension,
      effectiveStartTime: record.effectiveStartTime.date,
      quantity: record.quantity,
      attempts: Int(record.attempts),
      status: status,
      marketplaceStatus: record.marketplaceStatus,
      lastMessage: record.lastMessage,
      day: record.day
    )
  }
}

extension Guance_Billing_V1_MeteringRecordStatus {
  init(_ status: MeteringRecord.Status) {
    self =
      switch status {
      case .pending: .pending
      case .accepted: .accepted
      case .duplicate: .duplicate
      case .rejected: .rejected
      case .parked: .parked
      }
  }
}

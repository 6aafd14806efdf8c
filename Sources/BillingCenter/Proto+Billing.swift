import AccountKit
import Foundation
import GuanceContracts
import SuiteErrors
import SwiftProtobuf

/// Domain values as messages, and messages as domain values.
extension Guance_Billing_V1_BillingAccount {
  init(_ account: BillingAccount) {
    self.init()
    id = account.id.uuidString.lowercased()
    username = account.username
    email = account.email
    phone = account.phone ?? ""
    company = .with {
      $0.companyName = account.company.companyName
      $0.industry = account.company.industry
      $0.region = account.company.region
      $0.contactName = account.company.contactName
      $0.description_p = account.company.description
    }
    createdAt = Google_Protobuf_Timestamp(date: account.createdAt)
  }
}

extension Guance_Billing_V1_CloudIdentity {
  init(_ identity: CloudIdentity) {
    self.init()
    provider = .azure
    tenantID = identity.tenantID
    objectID = identity.objectID
  }

  /// Nil unless the provider is known and both ids are sane.
  var domain: CloudIdentity? {
    guard provider == .azure, Self.isID(tenantID), Self.isID(objectID) else { return nil }
    return CloudIdentity(
      provider: .azure,
      tenantID: tenantID.lowercased(),
      objectID: objectID.lowercased()
    )
  }

  private static func isID(_ text: String) -> Bool {
    text.isPrintableASCII(length: 1...64)
  }
}

extension Guance_Billing_V1_CloudAccount {
  init(_ account: CloudAccount) {
    self.init()
    id = account.id.uuidString.lowercased()
    identity = .init(account.identity)
    billingAccountID = account.billingAccountID.uuidString.lowercased()
    marketplaceSubscriptionIds = account.subscriptionIDs
    linkedAt = Google_Protobuf_Timestamp(date: account.linkedAt)
  }
}

extension Guance_Billing_V1_Settlement {
  init(_ settlement: Settlement) {
    self.init()
    switch settlement {
    case .billingAccount:
      method = .billingAccount
    case .cloudAccount(let subscriptionID):
      method = .cloudAccount
      marketplaceSubscriptionID = subscriptionID
    }
  }

  /// Nil when the method is unspecified, or cloud settlement names no subscription.
  var domain: Settlement? {
    switch method {
    case .billingAccount where marketplaceSubscriptionID.isEmpty: .billingAccount
    case .cloudAccount where !marketplaceSubscriptionID.isEmpty:
      .cloudAccount(subscriptionID: marketplaceSubscriptionID)
    default: nil
    }
  }
}

extension Guance_Billing_V1_WorkspaceBinding {
  init(_ binding: WorkspaceBinding) {
    self.init()
    workspaceID = binding.workspaceID.uuidString.lowercased()
    billingAccountID = binding.billingAccountID.uuidString.lowercased()
    workspaceName = binding.workspaceName
    site = binding.site
    settlement = .init(binding.settlement)
    status =
      switch binding.status {
      case .active: .active
      case .suspended: .suspended
      case .closed: .closed
      case nil: .unspecified
      }
    boundAt = Google_Protobuf_Timestamp(date: binding.boundAt)
    if let endedAt = binding.endedAt { self.endedAt = Google_Protobuf_Timestamp(date: endedAt) }
  }
}

extension Guance_Billing_V1_Money {
  init(micros: Int64, currency: String = "USD") {
    self.init()
    self.micros = micros
    self.currency = currency
  }
}

extension Guance_Billing_V1_DailyBill {
  init(_ bill: DailyBill) {
    self.init()
    day = bill.day
    catalogVersion = bill.catalogVersion
    lines = bill.lines.map { line in
      .with {
        $0.workspaceID = line.workspaceID.uuidString.lowercased()
        $0.site = line.site
        if let settlement = line.settlement { $0.settlement = .init(settlement) }
        $0.billingItem = line.billingItem
        $0.quantity = Quantity.text(line.quantity)
        $0.unitPrice = .init(micros: line.unitPriceMicros, currency: line.currency)
        $0.unitSize = line.unitSize
        $0.amount = .init(micros: line.amountMicros, currency: line.currency)
        $0.unbilledReason = line.unbilledReason ?? ""
      }
    }
    total = .init(micros: bill.totalMicros)
  }
}

extension Guance_Billing_V1_MeteringRecord {
  init(_ record: MeteringRecord) {
    self.init()
    key = record.key
    marketplaceSubscriptionID = record.subscriptionID
    dimension = record.dimension
    effectiveStartTime = Google_Protobuf_Timestamp(date: record.effectiveStartTime)
    quantity = Quantity.text(record.quantity)
    attempts = Int32(clamping: record.attempts)
    status = .init(record.status)
    marketplaceStatus = record.marketplaceStatus ?? ""
    lastMessage = record.lastMessage ?? ""
    day = record.day
    if let updated = record.updatedAt { updatedAt = Google_Protobuf_Timestamp(date: updated) }
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

  /// Nil for UNSPECIFIED (any status) and unknown values.
  var domain: MeteringRecord.Status? {
    switch self {
    case .pending: .pending
    case .accepted: .accepted
    case .duplicate: .duplicate
    case .rejected: .rejected
    case .parked: .parked
    case .unspecified, .UNRECOGNIZED: nil
    }
  }
}

extension Guance_Billing_V1_CloudSubscriptionStatus {
  init(_ status: CloudSubscriptionStatus) {
    self =
      switch status {
      case .active: .active
      case .suspended: .suspended
      case .unsubscribed: .unsubscribed
      }
  }

  var domain: CloudSubscriptionStatus? {
    switch self {
    case .active: .active
    case .suspended: .suspended
    case .unsubscribed: .unsubscribed
    case .unspecified, .UNRECOGNIZED: nil
    }
  }
}

extension Guance_Billing_V1_MeteringAcknowledgement {
  var domain: MeteringAcknowledgement? {
    let outcome: MeteringAcknowledgement.Outcome? =
      switch self.outcome {
      case .accepted: .accepted
      case .duplicate: .duplicate
      case .rejected: .rejected
      case .retry: .retry
      case .unspecified, .UNRECOGNIZED: nil
      }
    guard let outcome, (1...512).contains(key.utf8.count) else { return nil }
    return MeteringAcknowledgement(
      key: key,
      outcome: outcome,
      marketplaceStatus: String(marketplaceStatus.prefix(64)),
      message: String(message.prefix(2000))
    )
  }
}

/// The billing center's data, one protocol per aggregate; `PostgresBillingStore` keeps them all.
/// Each method is one transaction; decisions that need domain rules inside a transaction
/// (rating a day) come in as closures.
public typealias BillingStore = BillingAccountStore & CloudAccountStore & WorkspaceBindingStore
  & UsageStore & MeteringStore & SubscriptionStatusStore

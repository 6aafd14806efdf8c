public import SuitePersistence

extension Backlog {
  /// Activations whose saga still has a step to take.
  public static let activationSagas = Backlog(
    table: "activation_sagas",
    pending: "step IN ('settling', 'activating')",
    since: "created_at",
    countMetric: "activation_sagas_pending",
    ageMetric: "activation_saga_oldest_pending_seconds"
  )

  /// Lifecycle operations received from the marketplace and not yet carried out.
  public static let lifecycleOperations = Backlog(
    table: "lifecycle_operations",
    pending: "state = 'received'",
    since: "received_at",
    countMetric: "lifecycle_operations_pending",
    ageMetric: "lifecycle_operation_oldest_pending_seconds"
  )
}

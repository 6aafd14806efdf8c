/// What metering reads of the gateway's data (`GatewayStore` on PostgreSQL): the plans of the
/// subscriptions it submits usage for, and one pass at a time across replicas.
public protocol MeteringPlanStore: Sendable {
  /// The plans of those of `ids` the gateway follows, in one query.
  func planIDs(of ids: [String]) async throws -> [String: String]

  /// `body`, unless another replica holds `lock` (then nil), holding it meanwhile.
  func exclusively<Result: Sendable>(
    _ lock: Int64,
    _ body: () async throws -> Result
  ) async throws -> Result?
}

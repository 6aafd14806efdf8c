/// Every metric the suite's processes export, with the help text `/metrics` gives it. The code
/// records through swift-metrics, which has no help text; the endpoint adds it from here, and
/// a metric missing here has none, which `promtool check metrics` (a test) refuses. The
/// README's "Operating the suite" lists the same names (a test compares).
public enum MetricCatalogue {
  public static let help: [String: String] = [
    // The gRPC server and client, as grpc-go's Prometheus interceptors name them.
    "grpc_server_started_total": "RPCs started on the server, by service and method.",
    "grpc_server_handled_total": "RPCs answered by the server, by service, method and status code.",
    "grpc_server_handling_seconds":
      "Time from an RPC's start to its answer on the server, in seconds.",
    "grpc_client_started_total":
      "RPCs this process started to another service, by service and method.",
    "grpc_client_handled_total":
      "RPCs to another service that ended, by service, method and status code.",
    "grpc_client_handling_seconds":
      "Time from the start of an RPC to another service to its end, in seconds.",
    // PostgreSQL.
    "postgres_pool_connections_max": "Connections the PostgreSQL pool may open (pool_size).",
    "postgres_operations_in_flight":
      "Statements and transactions holding or waiting for a pooled PostgreSQL connection.",
    // Backlogs, read from the database when scraped.
    "mail_outbox_pending": "Mails in the outbox not yet sent.",
    "mail_outbox_oldest_pending_seconds":
      "Age of the oldest mail not yet sent, in seconds (0 when none).",
    "activation_sagas_pending":
      "Activations whose saga still has a step to take (settling or activating).",
    "activation_saga_oldest_pending_seconds":
      "Age of the oldest activation saga still under way, in seconds (0 when none).",
    "lifecycle_operations_pending":
      "Marketplace lifecycle operations received and not yet carried out.",
    "lifecycle_operation_oldest_pending_seconds":
      "Age of the oldest lifecycle operation not yet carried out, in seconds (0 when none).",
    "metering_records_pending": "Closed-day metering records not yet accepted by the marketplace.",
    "metering_record_oldest_pending_seconds":
      "Age of the oldest metering record not yet accepted, in seconds (0 when none).",
    // Metering and webhooks at the gateway.
    "marketplace_metering_records_total":
      "Metering records the gateway submitted to the marketplace, by outcome.",
    "marketplace_metering_records_near_deadline":
      "Metering records still unsubmitted within the alarm margin of the marketplace's 24-hour limit.",
    "marketplace_metering_mismatches":
      "Metering records whose accepted usage differs from what the marketplace reports.",
    "marketplace_webhook_calls_total":
      "Calls of the marketplace's webhook at the gateway, by result.",
    "lifecycle_reconcile_passes_total":
      "Passes of the gateway's lifecycle reconciler over the marketplace's subscriptions, by result.",
  ]

  /// `exposition` with a `# HELP` line before each `# TYPE` line that has none.
  static func withHelp(_ exposition: String) -> String {
    var output = ""
    output.reserveCapacity(exposition.utf8.count + 4096)
    var lastHelp: Substring = ""
    for line in exposition.split(separator: "\n", omittingEmptySubsequences: false) {
      if line.hasPrefix("# HELP ") {
        lastHelp = line.dropFirst("# HELP ".count).prefix { $0 != " " }
      } else if line.hasPrefix("# TYPE ") {
        let name = line.dropFirst("# TYPE ".count).prefix { $0 != " " }
        if name != lastHelp, let help = help[String(name)] {
          output += "# HELP \(name) \(help)\n"
        }
      }
      output += line
      output += "\n"
    }
    return String(output.dropLast())
  }
}

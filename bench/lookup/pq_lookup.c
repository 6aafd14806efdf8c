// The console's LookupWorkspace statement sent straight through libpq, without gRPC or Swift:
// what PostgreSQL serves of it on this machine, one statement per round trip (as
// postgres-nio sends it) or pipelined (libpq's pipeline mode, up to BATCH in flight per
// connection). For bench/results/lookup-drivers.md.
//   pq_lookup CONNINFO WORKSPACE_ID CONNECTIONS SECONDS BATCH   (BATCH 1: no pipeline)
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *conninfo, *workspace;
static int seconds, batch;

static const char *sql =
    "SELECT w.id, w.name, w.language, w.site, w.status, w.owner_account_id, w.created_at "
    "FROM workspaces w WHERE w.id = $1";

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void fail(PGconn *conn, const char *what) {
  fprintf(stderr, "pq_lookup: %s: %s", what, PQerrorMessage(conn));
  exit(1);
}

static void expect_row(PGconn *conn, PGresult *result) {
  if (PQresultStatus(result) != PGRES_TUPLES_OK || PQntuples(result) != 1) fail(conn, "lookup");
  PQclear(result);
}

static void *run(void *count) {
  PGconn *conn = PQconnectdb(conninfo);
  if (PQstatus(conn) != CONNECTION_OK) fail(conn, "connect");
  PGresult *prepared = PQprepare(conn, "lookup", sql, 1, NULL);
  if (PQresultStatus(prepared) != PGRES_COMMAND_OK) fail(conn, "prepare");
  PQclear(prepared);
  const char *values[1] = {workspace};
  // Binary results, as postgres-nio asks for them.
  const int formats[1] = {0};
  long done = 0;
  double end = now() + seconds;
  if (batch > 1 && !PQenterPipelineMode(conn)) fail(conn, "pipeline mode");
  while (now() < end) {
    if (batch == 1) {
      expect_row(conn, PQexecPrepared(conn, "lookup", 1, values, NULL, formats, 1));
      done++;
      continue;
    }
    for (int i = 0; i < batch; i++)
      if (!PQsendQueryPrepared(conn, "lookup", 1, values, NULL, formats, 1)) fail(conn, "send");
    if (!PQpipelineSync(conn)) fail(conn, "sync");
    for (int i = 0; i < batch; i++) {
      expect_row(conn, PQgetResult(conn));
      if (PQgetResult(conn) != NULL) fail(conn, "end of result");
    }
    PGresult *sync = PQgetResult(conn);
    if (PQresultStatus(sync) != PGRES_PIPELINE_SYNC) fail(conn, "pipeline sync");
    PQclear(sync);
    done += batch;
  }
  *(long *)count = done;
  PQfinish(conn);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: pq_lookup CONNINFO WORKSPACE_ID CONNECTIONS SECONDS BATCH\n");
    return 2;
  }
  conninfo = argv[1], workspace = argv[2];
  int connections = atoi(argv[3]);
  seconds = atoi(argv[4]), batch = atoi(argv[5]);
  pthread_t threads[256];
  long counts[256] = {0};
  if (connections < 1 || connections > 256 || seconds < 1 || batch < 1) return 2;
  double start = now();
  for (int i = 0; i < connections; i++) pthread_create(&threads[i], NULL, run, &counts[i]);
  long total = 0;
  for (int i = 0; i < connections; i++) {
    pthread_join(threads[i], NULL);
    total += counts[i];
  }
  printf("%.0f\n", total / (now() - start));
  return 0;
}

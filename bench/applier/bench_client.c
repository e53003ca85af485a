/*
 * bench_client.c
 *		libpq client of the applier benchmark.  It owns the two timed loops
 *		that need a client of their own; connection settings come from the
 *		usual PG* environment variables.
 *
 *   bench_client drain TARGET
 *		Enable the applier (ALTER SYSTEM + pg_reload_conf), then poll
 *		axs.applier_state.watermark every 50 ms, each poll its own
 *		transaction, until it reaches TARGET.  Prints the seconds from the
 *		reload to the first poll that saw TARGET.  The poll reads the state
 *		table, not the axs.applier_status view, whose queue-depth count
 *		scans the whole inbox; and it holds no snapshot between polls, so it
 *		does not keep the applier from pruning dead balance rows.
 *
 *   bench_client axs-technique TSV_FILE BATCH_SIZE STATEMENT_FILE
 *		The client side of the original AXS technique: per batch, BEGIN,
 *		COPY the batch's lines into the temporary table batch, run the
 *		statement of STATEMENT_FILE from seq 0, and again from the seq it
 *		returns until it returns NULL (it decides the batch in order up to
 *		the first event its set-based check could not confirm; see
 *		apply_batch.sql), COMMIT.  If a pass hits a CHECK violation (a
 *		statement bug: it never should), the batch is rolled back to its
 *		start and redone by bench_axs.apply_batch_sequentially().  Prints
 *		seconds, applied, rejected, duplicates, fallback batches and how many
 *		of those were CHECK violations (the same number now); the number of
 *		passes goes to stderr.
 *
 * It must not change anything but the applier switch and schema bench_axs.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

static PGconn *connection;

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
fail(const char *what)
{
	fprintf(stderr, "bench_client: %s: %s", what, PQerrorMessage(connection));
	exit(1);
}

/* Run a statement that must succeed; returns its result (caller clears). */
static PGresult *
run(const char *query)
{
	PGresult   *result = PQexec(connection, query);
	ExecStatusType status = PQresultStatus(result);

	if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "bench_client: %s\n  in: %.200s\n", PQresultErrorMessage(result), query);
		exit(1);
	}
	return result;
}

static void
run_and_clear(const char *query)
{
	PQclear(run(query));
}

static int
drain(long long target)
{
	double		started;
	struct timespec pause = {0, 50 * 1000 * 1000};

	run_and_clear("ALTER SYSTEM SET axs.applier_enabled = on");
	started = now_seconds();
	run_and_clear("SELECT pg_reload_conf()");
	for (;;)
	{
		PGresult   *result = run("SELECT watermark FROM axs.applier_state");
		long long	watermark = atoll(PQgetvalue(result, 0, 0));

		PQclear(result);
		if (watermark >= target)
			break;
		nanosleep(&pause, NULL);
	}
	printf("%.3f\n", now_seconds() - started);
	return 0;
}

static char *
read_file(const char *path)
{
	FILE	   *file = fopen(path, "r");
	long		size;
	char	   *text;

	if (file == NULL || fseek(file, 0, SEEK_END) != 0 || (size = ftell(file)) < 0)
	{
		perror(path);
		exit(1);
	}
	rewind(file);
	text = malloc((size_t) size + 1);
	if (text == NULL || fread(text, 1, (size_t) size, file) != (size_t) size)
	{
		perror(path);
		exit(1);
	}
	text[size] = '\0';
	fclose(file);
	return text;
}

/* Send one COPY data chunk; PQputCopyData succeeds only when it returns 1. */
static void
copy_chunk(const char *data, size_t length)
{
	if (PQputCopyData(connection, data, (int) length) != 1)
		fail("COPY data");
}

static void
copy_end(void)
{
	PGresult   *result;

	if (PQputCopyEnd(connection, NULL) != 1)
		fail("COPY end");
	while ((result = PQgetResult(connection)) != NULL)
	{
		if (PQresultStatus(result) != PGRES_COMMAND_OK)
			fail("COPY");
		PQclear(result);
	}
}

static int
axs_technique(const char *tsv_path, long batch_size, const char *statement_path)
{
	FILE	   *tsv = fopen(tsv_path, "r");
	char	   *statement = read_file(statement_path);
	char		line[512];
	char	   *buffer;
	size_t		buffered = 0;
	size_t		capacity = 1 << 20;
	long long	applied = 0,
				rejected = 0,
				duplicates = 0,
				fallbacks = 0,
				check_violations = 0,
				batches = 0,
				passes = 0;
	bool		more = true;
	double		started;
	PGresult   *result;

	buffer = malloc(capacity);
	if (tsv == NULL || buffer == NULL)
	{
		perror(tsv_path);
		return 1;
	}
	run_and_clear("CREATE TEMP TABLE batch ("
				  " seq bigint GENERATED ALWAYS AS IDENTITY,"
				  " id bigint, kind smallint, account bigint, counterparty bigint,"
				  " currency integer, quote integer, amount bigint, quote_amount bigint)"
				  " ON COMMIT DELETE ROWS");
	/* The temporary table's size changes per batch: plan every pass. */
	run_and_clear("SET plan_cache_mode = force_custom_plan");
	result = PQprepare(connection, "apply_batch", statement, 0, NULL);
	if (PQresultStatus(result) != PGRES_COMMAND_OK)
		fail("preparing the batch statement");
	PQclear(result);

	started = now_seconds();
	while (more)
	{
		long		count = 0;

		run_and_clear("BEGIN");
		result = PQexec(connection, "COPY batch (id, kind, account, counterparty, currency, quote, amount, quote_amount) FROM STDIN");
		if (PQresultStatus(result) != PGRES_COPY_IN)
			fail("starting COPY");
		PQclear(result);
		while (count < batch_size)
		{
			size_t		length;

			if (fgets(line, sizeof(line), tsv) == NULL)
			{
				more = false;
				break;
			}
			length = strlen(line);
			if (buffered + length > capacity)
			{
				copy_chunk(buffer, buffered);
				buffered = 0;
			}
			memcpy(buffer + buffered, line, length);
			buffered += length;
			count++;
		}
		if (buffered > 0)
			copy_chunk(buffer, buffered);
		buffered = 0;
		copy_end();

		/*
		 * The CHECK constraints of bench_axs.balances are the last line of
		 * defence: a batch the statement mis-decides fails on them and is
		 * redone event by event.
		 */
		run_and_clear("SAVEPOINT before_batch");
		{
			long long	batch_applied = 0,
						batch_rejected = 0,
						batch_duplicates = 0;
			char		start[32] = "0";
			const char *params[1] = {start};
			bool		violated = false;

			batches++;
			for (;;)
			{
				passes++;
				result = PQexecPrepared(connection, "apply_batch", 1, params, NULL, NULL, 0);
				if (PQresultStatus(result) != PGRES_TUPLES_OK)
				{
					if (strcmp(PQresultErrorField(result, PG_DIAG_SQLSTATE), "23514") != 0)
						fail("applying a batch");
					PQclear(result);
					violated = true;
					break;
				}
				batch_applied += atoll(PQgetvalue(result, 0, 1));
				batch_rejected += atoll(PQgetvalue(result, 0, 2));
				batch_duplicates += atoll(PQgetvalue(result, 0, 3));
				if (PQgetisnull(result, 0, 0))
				{
					PQclear(result);
					break;
				}
				snprintf(start, sizeof(start), "%s", PQgetvalue(result, 0, 0));
				PQclear(result);
			}
			if (!violated)
			{
				applied += batch_applied;
				rejected += batch_rejected;
				duplicates += batch_duplicates;
			}
			else
			{
				long long	fresh;

				run_and_clear("ROLLBACK TO SAVEPOINT before_batch");
				check_violations++;
				fallbacks++;
				/* Subqueries use the statement's snapshot: taken before the fallback writes. */
				result = run("SELECT (SELECT count(DISTINCT id) FROM pg_temp.batch AS b"
							 "         WHERE NOT EXISTS (SELECT 1 FROM bench_axs.events AS x WHERE x.id = b.id)),"
							 " (SELECT count(*) FROM pg_temp.batch),"
							 " bench_axs.apply_batch_sequentially()");
				fresh = atoll(PQgetvalue(result, 0, 0));
				applied += atoll(PQgetvalue(result, 0, 2));
				rejected += fresh - atoll(PQgetvalue(result, 0, 2));
				duplicates += atoll(PQgetvalue(result, 0, 1)) - fresh;
				PQclear(result);
			}
		}
		run_and_clear("COMMIT");
	}
	printf("%.3f %lld %lld %lld %lld %lld\n", now_seconds() - started, applied, rejected,
		   duplicates, fallbacks, check_violations);
	fprintf(stderr, "bench_client: axs-technique batch %ld: %lld batches, %lld statement passes\n",
			batch_size, batches, passes);
	fclose(tsv);
	free(buffer);
	free(statement);
	return 0;
}

int
main(int argc, char **argv)
{
	int			status;

	if (argc < 2 || (strcmp(argv[1], "drain") == 0 && argc != 3) ||
		(strcmp(argv[1], "axs-technique") == 0 && argc != 5))
	{
		fprintf(stderr, "usage: bench_client drain TARGET\n"
				"       bench_client axs-technique TSV_FILE BATCH_SIZE STATEMENT_FILE\n");
		return 2;
	}
	connection = PQconnectdb("");
	if (PQstatus(connection) != CONNECTION_OK)
		fail("connecting");
	if (strcmp(argv[1], "drain") == 0)
		status = drain(atoll(argv[2]));
	else if (strcmp(argv[1], "axs-technique") == 0)
		status = axs_technique(argv[2], atol(argv[3]), argv[4]);
	else
	{
		fprintf(stderr, "bench_client: unknown command %s\n", argv[1]);
		status = 2;
	}
	PQfinish(connection);
	return status;
}

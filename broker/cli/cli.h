/* cli: the subcommands of the `ferry` binary. Each takes the arguments after its name and returns the
 * process exit status (0 success, 1 failure, 2 usage error). */
#ifndef FERRY_CLI_H
#define FERRY_CLI_H

int cli_server_main(int argc, char **argv);  /* ferry server [--config FILE] [--set KEY=VALUE]... */
int cli_storage_main(int argc, char **argv); /* ferry storage format|random-uuid ... */
int cli_topics_main(int argc, char **argv);  /* ferry topics create|delete|list|describe ... */
int cli_quorum_main(int argc, char **argv);  /* ferry quorum describe --status|--replication ... */

#endif

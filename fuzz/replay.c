/* SPDX-License-Identifier: MIT */
/*
 * Replay without libFuzzer: runs every file named (or found in a directory
 * named) on the command line through LLVMFuzzerTestOneInput, as the
 * libFuzzer binary would.  `--backend NAME` forces the backend
 * (MAPREG_FUZZ_BACKEND).  A finding aborts; no input at all is a failure
 * too, so that a missing corpus cannot pass.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"

static size_t replayed;

static void replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct stat st;

	if (f == NULL || fstat(fileno(f), &st) != 0) {
		perror(path);
		exit(1);
	}
	/* Exactly the input's size, so that AddressSanitizer sees over-reads. */
	uint8_t *data = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (data == NULL || fread(data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		perror(path);
		exit(1);
	}
	fclose(f);
	LLVMFuzzerTestOneInput(data, (size_t)st.st_size);
	free(data);
	replayed++;
}

static void replay_path(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		perror(path);
		exit(1);
	}
	if (!S_ISDIR(st.st_mode)) {
		replay_file(path);
		return;
	}
	DIR *dir = opendir(path);
	struct dirent *entry;
	while (dir != NULL && (entry = readdir(dir)) != NULL) {
		char child[4096];

		if (entry->d_name[0] == '.')
			continue;
		snprintf(child, sizeof(child), "%s/%s", path, entry->d_name);
		replay_path(child);
	}
	if (dir != NULL)
		closedir(dir);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc) {
			setenv("MAPREG_FUZZ_BACKEND", argv[++i], 1);
			continue;
		}
		replay_path(argv[i]);
	}
	mapreg_barrier();	/* deferred frees done before the leak check at exit */
	printf("replayed %zu inputs\n", replayed);
	return replayed == 0;
}

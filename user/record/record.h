/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef CTRACE_RECORD_H
#define CTRACE_RECORD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "formats/formats.h"

#define MAX_TARGETS 64

struct record_opts {
	pid_t pids[MAX_TARGETS];
	int npids;
	char **cmd;	      /* launch mode: NULL-terminated argv */
	uint64_t duration_ns; /* 0: until a signal */
	const char *output;
	enum out_format format;
	bool gzip;
	bool quiet;
	bool verbose;
	int go_mode;		  /* enum go_mode (bpf/ctrace.h); GO_MODE_AUTO by default */
	bool go_mode_set;	  /* given by --goroutines or --no-goroutines */
	unsigned int stack_depth; /* goroutine stack frames; 0: none */
	const char *pprof_dir;	  /* --pprof-out: also write pprof profiles there */
	bool report;		  /* print the report of the capture at the end */
	unsigned int freq_hz;	  /* --freq: CPU samples a second, 0: none */
	bool freq_set;		  /* --freq was given */
	double max_overhead;	  /* --max-overhead: auto mode's limit, percent of target CPU */
	uint64_t snapshot_interval_ns; /* goroutine snapshots of Go targets; 0: none */
	bool snapshot_set;	       /* --snapshot-interval was given */
	const char *user;	       /* --user: CMD runs as this user */
};

/* Runs a recording; returns the process exit status. */
int cmd_record(struct record_opts *o);

#endif /* CTRACE_RECORD_H */

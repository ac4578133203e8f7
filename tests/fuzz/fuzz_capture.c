// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer harness: a capture through the reader and every consumer of it
 * (each convert format, pprof, the report in text and JSON). An input that
 * is not a capture is taken as raw records and wrapped into one (version 1,
 * zlib), so mutations reach the record parsers rather than the codec.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "capture/capture.h"
#include "capture/capture_format.h"
#include "formats/formats.h"
#include "formats/gotrace.h"
#include "formats/pprof.h"
#include "lib/output.h"
#include "report/report.h"
#include "fuzz_common.h"

static char pprof_dir[64];

static void run_formats(struct ctr_reader *r)
{
	static const enum out_format fmts[] = {FMT_PERFETTO, FMT_JSON, FMT_TEXT, FMT_GO};

	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		const struct format_desc *d = format_desc(fmts[i]);
		struct format_stats st = {0};
		int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		struct out *o;

		if (fd < 0)
			continue;
		if (ctr_rewind(r) || (fmts[i] == FMT_GO && gotrace_check(r))) {
			close(fd);
			continue;
		}
		o = out_open_fd(fd);
		if (o) {
			d->write(r, o, &st);
			out_close(o);
		}
		close(fd);
	}
}

static void run_report(struct ctr_reader *r, const char *path)
{
	struct report_opts opts = {.top = 5};
	struct report rp;
	FILE *f;

	if (ctr_rewind(r))
		return;
	if (!report_build(&rp, r, path, &opts)) {
		int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		struct out *o = fd >= 0 ? out_open_fd(fd) : NULL;

		if (o) {
			report_json(&rp, o);
			report_html(&rp, o);
			out_close(o);
		}
		if (fd >= 0)
			close(fd);
		f = fopen("/dev/null", "w");
		if (f) {
			report_text(&rp, f, 100, false);
			fclose(f);
		}
	}
	report_free(&rp);
}

/* A version 1 capture of raw records, cut into blocks; NULL on failure. */
static uint8_t *wrap_raw(const uint8_t *data, size_t size, size_t *outlen)
{
	size_t cap = 16 + size + (size / CTR_BLOCK_RAW + 1) * (16 + 64) + 1024, len = 16;
	uint8_t *buf = malloc(cap);
	uint32_t hdr[2] = {1, 16};

	if (!buf)
		return NULL;
	memcpy(buf, CTR_MAGIC, 8);
	memcpy(buf + 8, hdr, 8);
	for (size_t off = 0; off < size || off == 0; off += CTR_BLOCK_RAW) {
		size_t raw = size - off < CTR_BLOCK_RAW ? size - off : CTR_BLOCK_RAW;
		uLongf z = compressBound(raw);
		uint32_t bh[4] = {CTR_BLOCK_MAGIC, raw, 0, 0};

		if (len + 16 + z > cap || compress2(buf + len + 16, &z, data + off, raw, 0) != Z_OK)
			break;
		bh[2] = z;
		memcpy(buf + len, bh, 16);
		len += 16 + z;
		if (!size)
			break;
	}
	*outlen = len;
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *wrapped = NULL;
	size_t wlen;
	char path[64], err[512];
	struct ctr_reader *r;
	int fd;

	if (!pprof_dir[0]) {
		fuzz_quiet_stdout();
		snprintf(pprof_dir, sizeof(pprof_dir), "/tmp/ctrace-fuzz-pprof.%d", getpid());
	}
	if (size < 8 || memcmp(data, CTR_MAGIC, 8)) {
		wrapped = wrap_raw(data, size, &wlen);
		if (!wrapped)
			return 0;
		data = wrapped;
		size = wlen;
	}
	fd = fuzz_memfd(data, size, path, sizeof(path));
	free(wrapped);
	if (fd < 0)
		return 0;
	r = ctr_open(path, err, sizeof(err));
	if (r) {
		run_formats(r);
		run_report(r, path);
		ctr_close(r);
		pprof_write_dir(path, pprof_dir, true);
		fuzz_rm_dir(pprof_dir);
	}
	close(fd);
	return 0;
}

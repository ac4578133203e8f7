// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Plain text, one event a line, in the spirit of `perf script`. */
#include <inttypes.h>
#include <stdio.h>
#include "capture/names.h"
#include "formats/formats.h"

static void put_go(struct out *o, const struct ev_header *h)
{
	static const char *const names[] = {"go_create",  "go_start", "go_block",
					    "go_unblock", "go_sched", "go_exit"};
	const struct ev_go *e = (const void *)h;

	out_printf(o, "%s G%lld p=%d", names[h->type - EV_GO_CREATE], (long long)e->goid, e->p);
	if (h->type == EV_GO_CREATE || h->type == EV_GO_UNBLOCK)
		out_printf(o, " by G%lld", (long long)e->other_goid);
	if (h->type == EV_GO_BLOCK || h->type == EV_GO_UNBLOCK)
		out_printf(o, " reason=%u", e->reason);
	if (h->type == EV_GO_SCHED || h->type == EV_GO_UNBLOCK)
		out_printf(o, " kind=%u", e->kind);
	if (h->type == EV_GO_CREATE)
		out_printf(o, " start=%#llx", (unsigned long long)e->pc);
	for (int i = 0; i < e->nstack && i < 4; i++)
		out_printf(o, "%s%#llx", i ? "," : " stack=", (unsigned long long)e->stack[i]);
	out_printf(o, "\n");
}

/* One record's line after its common prefix. */
static void put_event(struct out *o, const struct ctr_info *in, const struct ev_header *h)
{
	char name[64];

	switch (h->type) {
	case EV_SCHED_SWITCH: {
		const struct ev_sched_switch *e = (const void *)h;
		const char *st = sched_state_name(e->prev_state, NULL, 0);

		out_printf(o, "sched_switch %s:%u [%s] => %s:%u\n", e->prev_comm, e->prev_pid,
			   st ? st : "?", e->next_comm, e->next_pid);
		break;
	}
	case EV_SCHED_WAKING:
	case EV_SCHED_WAKEUP_NEW: {
		const struct ev_sched_wake *e = (const void *)h;

		out_printf(o, "%s %s:%u target_cpu=%d\n",
			   h->type == EV_SCHED_WAKING ? "sched_waking" : "sched_wakeup_new",
			   e->comm, e->pid, e->target_cpu);
		break;
	}
	case EV_PROCESS_FORK: {
		const struct ev_process_fork *e = (const void *)h;

		out_printf(o, "fork %u/%u => %s %u/%u%s\n", e->parent_tgid, e->parent_pid,
			   e->child_comm, e->child_tgid, e->child_pid,
			   e->child_tgid == e->parent_tgid ? " (thread)" : "");
		break;
	}
	case EV_PROCESS_EXEC: {
		const struct ev_process_exec *e = (const void *)h;

		out_printf(o, "exec %s (%s)\n", e->filename, e->comm);
		break;
	}
	case EV_PROCESS_EXIT: {
		const struct ev_process_exit *e = (const void *)h;

		out_printf(o, "exit %s:%u code=%d%s\n", e->comm, e->pid, e->exit_code,
			   h->flags & EXIT_GROUP_DEAD ? " group" : "");
		break;
	}
	case EV_SYS_ENTER: {
		const struct ev_sys_enter *e = (const void *)h;

		out_printf(o, "sys_enter %s(%#" PRIx64 ", %#" PRIx64 ", %#" PRIx64 ")\n",
			   syscall_name_buf(in->machine, e->id, name, sizeof(name)),
			   (uint64_t)e->args[0], (uint64_t)e->args[1], (uint64_t)e->args[2]);
		break;
	}
	case EV_SYS_EXIT: {
		const struct ev_sys_exit *e = (const void *)h;

		out_printf(o, "sys_exit %s = %" PRId64 "\n",
			   syscall_name_buf(in->machine, e->id, name, sizeof(name)),
			   (int64_t)e->ret);
		break;
	}
	case EV_TASK_RENAME: {
		const struct ev_task_rename *e = (const void *)h;

		out_printf(o, "rename %u %s => %s\n", e->pid, e->oldcomm, e->newcomm);
		break;
	}
	case EV_GO_CREATE:
	case EV_GO_START:
	case EV_GO_BLOCK:
	case EV_GO_UNBLOCK:
	case EV_GO_SCHED:
	case EV_GO_EXIT:
		put_go(o, h);
		break;
	case EV_GO_HANDOFF: {
		const struct ev_go *e = (const void *)h;

		out_printf(o, "go_handoff p=%d by G%lld\n", e->p, (long long)e->goid);
		break;
	}
	case EV_CPU_SAMPLE: {
		const struct ev_cpu_sample *e = (const void *)h;

		out_printf(
		    o, "cpu_sample G%" PRId64 " %u frames%s pc=%#" PRIx64 " (sampled, %u ns)\n",
		    (int64_t)e->goid, e->nstack, h->flags & CPU_SAMPLE_F_KERNEL ? " in kernel" : "",
		    (uint64_t)(e->nstack ? e->stack[0] : 0), e->period_ns);
		break;
	}
	case REC_GO_SNAP: {
		const struct rec_go_snap *e = (const void *)h;

		out_printf(o,
			   "go_snapshot #%u chunk %u: %u of %u goroutines (sampled), %u dropped\n",
			   e->seq, e->chunk, e->count, e->total, e->implausible + e->unreadable);
		break;
	}
	default:
		out_printf(o, "type %u (%u bytes)\n", h->type, h->size);
		break;
	}
}

int text_write(struct ctr_reader *r, struct out *o)
{
	const struct ctr_info *in = ctr_info(r);
	const struct ev_header *h;
	char buf[200];
	const char *stop = capture_stop_text(in, buf, sizeof(buf));
	int rc;

	out_printf(o, "# ctrace-bpf capture: %s %s %s, %u cpus, target %s\n", in->sysname,
		   in->release, in->machine, in->ncpus, in->target);
	out_printf(o, "# events %" PRIu64 ", dropped %" PRIu64 "%s\n", in->events, in->drops_total,
		   in->clean_end ? "" : ", capture cut short");
	if (stop)
		out_printf(o, "# %s\n", stop);
	if (ctr_rewind(r))
		return -1;
	while ((rc = ctr_next(r, &h)) > 0) {
		const struct ctr_task *t = ctr_task_find(r, h->tid);

		out_printf(o, "%16s %7u/%-7u [%03u] %" PRIu64 ".%06" PRIu64 ": ",
			   t	    ? t->comm
			   : h->tid ? "?"
				    : "<idle>",
			   h->tgid, h->tid, h->cpu, (uint64_t)(h->ts / 1000000000),
			   (uint64_t)((h->ts / 1000) % 1000000));
		put_event(o, in, h);
	}
	if (rc < 0) {
		fprintf(stderr, "ctrace-bpf: %s\n", ctr_error(r));
		return -1;
	}
	return out_error(o) ? -1 : 0;
}

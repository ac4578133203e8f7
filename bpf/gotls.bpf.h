/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Sampled mode: which goroutine a Go thread runs, read from its TLS at a
 * kernel event instead of probing every goroutine switch, so the cost grows
 * with the kernel's event rate, not with the goroutine switch rate.
 *
 * User space fills go_tls[] (one slot per Go target process) through the
 * skeleton's .bss and sets go_tls_n last; the handlers look a tgid up by a
 * short scan, which costs no helper call.
 */
#ifndef CTRACE_GOTLS_BPF_H
#define CTRACE_GOTLS_BPF_H

struct go_tls_cfg go_tls[GO_MAX_PROCS];
__u32 go_tls_n;

static __always_inline const struct go_tls_cfg *go_tls_find(__u32 tgid)
{
	for (int i = 0; i < GO_MAX_PROCS; i++) {
		if (i >= go_tls_n)
			break;
		if (go_tls[i].tgid == tgid)
			return &go_tls[i];
	}
	return NULL;
}

/*
 * t must be current: its memory is the one mapped. thread.fsbase is exact
 * for Go threads, which set their TLS through arch_prctl or clone.
 *
 * The window offsets are read once, before any helper call (the compiler
 * would reload them from .bss after one and lose the bounds checks), and
 * must be naturally aligned: the verifier only allows aligned stack loads
 * at a variable offset. User space picks an 8-aligned win_off, which keeps
 * g's own alignment of goid (8) and atomicstatus (4).
 */
static __always_inline void go_tls_read(struct task_struct *t, const struct go_tls_cfg *c,
					struct ev_go_tail *out)
{
	__u8 win[GO_TLS_WINDOW];
	__u32 goff = c->goid, soff = c->status, roff = c->reason;
	__u64 base = c->win_off;
	long tls = c->tls_off;
	__u64 g = 0;

	out->goid = -1;
	out->status = 0;
	out->reason = 0;
	out->pad = 0;
	if ((goff & 7) || (soff & 3) || goff > GO_TLS_WINDOW - 8 || soff > GO_TLS_WINDOW - 4 ||
	    roff > GO_TLS_WINDOW - 1)
		return;
	/* Known alignment for the verifier; the checks above already hold. */
	_Static_assert(GO_TLS_WINDOW <= 64, "the masks below cover 64 bytes");
	goff &= 0x38;
	soff &= 0x3c;
	roff &= 0x3f;
	if (bpf_probe_read_user(&g, sizeof(g), (void *)(t->thread.fsbase + tls)) || !g)
		return;
	if (bpf_probe_read_user(win, sizeof(win), (void *)(g + base)))
		return;
	out->goid = *(__s64 *)(win + goff);
	out->status = *(__u32 *)(win + soff);
	out->reason = win[roff];
}

#endif /* CTRACE_GOTLS_BPF_H */

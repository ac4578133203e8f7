// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The reference for the event-path benchmark: programs that do nothing, on
 * the attach points ctrace-bpf uses. What they cost is what any tracer on
 * these tracepoints pays before it records anything.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/sched_switch")
int BPF_PROG(null_sched_switch)
{
	return 0;
}

SEC("tp_btf/sched_waking")
int BPF_PROG(null_sched_waking)
{
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(null_sys_enter)
{
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(null_sys_exit)
{
	return 0;
}

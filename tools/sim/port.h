/* The simulator's page table and frames (port.c), shared with sim.c. */
#ifndef ZPAGE_SIM_PORT_H
#define ZPAGE_SIM_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "sim.h"

struct k_timer;

struct sim_port {
	enum sim_mode mode;
	uint32_t *free; /* free frames, a stack */
	size_t nfree;
	uint64_t now;   /* virtual time, ns */
	struct k_timer *timer;
	uint64_t timer_period, timer_next;
	uint64_t faults, evictions, dirty_evictions;
};

extern struct sim_port sim_port;

int sim_port_init(size_t npages, size_t frames, enum sim_mode mode);
void sim_port_fini(void);

#endif /* ZPAGE_SIM_PORT_H */

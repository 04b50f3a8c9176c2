import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { Gauge } from 'prom-client';
import type { Subscription } from 'rxjs';
import { SERVER_STATES } from '../common/vocabulary/server-states';
import { MetricsService } from '../metrics/metrics.service';
import { FleetService } from './fleet.service';

const LOAD_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300];

/**
 * Fleet gauges, read from the supervisors at scrape time, and the load and unload counts as
 * they happen (labels: states, model ids, triggers and reasons, all bounded).
 */
@Injectable()
export class FleetMetrics implements OnModuleDestroy {
  private readonly subscription: Subscription;

  constructor(metrics: MetricsService, fleet: FleetService) {
    const loads = metrics.counter({
      name: 'magi_fleet_loads_total',
      help: 'Server starts by model and trigger (request, api, activation)',
      labelNames: ['model_id', 'trigger'],
    });
    const unloads = metrics.counter({
      name: 'magi_fleet_unloads_total',
      help: 'Server stops by model and reason (idle, evicted, api, profile, cancelled)',
      labelNames: ['model_id', 'reason'],
    });
    const loadDuration = metrics.histogram({
      name: 'magi_fleet_load_duration_seconds',
      help: 'Time from a server start to its readiness',
      buckets: LOAD_BUCKETS,
    });
    this.subscription = fleet.loadEvents$.subscribe((e) => {
      if (e.kind === 'load') loads.inc({ model_id: e.modelId, trigger: e.trigger });
      else if (e.kind === 'unload') unloads.inc({ model_id: e.modelId, reason: e.reason });
      else loadDuration.observe(e.seconds);
    });
    const budget: Gauge = metrics.gauge({
      name: 'magi_fleet_memory_budget_bytes',
      help: 'The memory budget of the fleet in bytes (absent when off)',
      collect: () => {
        const b = fleet.memory().budgetBytes;
        // remove(), not reset(): a reset label-less gauge still reads 0, a budget nothing fits in.
        if (b === null) budget.remove();
        else budget.set(b);
      },
    });
    const reserved: Gauge = metrics.gauge({
      name: 'magi_fleet_memory_reserved_bytes',
      help: 'What running and starting servers count for against the budget (each the larger of estimate and measured)',
      collect: () => reserved.set(fleet.memory().reservedBytes),
    });
    const byState: Gauge<'state'> = metrics.gauge({
      name: 'magi_fleet_servers',
      help: 'llama-server processes by state',
      labelNames: ['state'],
      collect: () => {
        const list = fleet.list();
        for (const state of SERVER_STATES) byState.set({ state }, list.filter((s) => s.state === state).length);
      },
    });
    const ready: Gauge = metrics.gauge({
      name: 'magi_fleet_ready_servers',
      help: 'Servers of the active profile that are ready',
      collect: () => ready.set(fleet.readyServers().length),
    });
    const up: Gauge<'model_id'> = metrics.gauge({
      name: 'magi_fleet_server_ready',
      help: "1 when the model's server is ready, else 0",
      labelNames: ['model_id'],
      collect: () => {
        up.reset();
        for (const s of fleet.list()) up.set({ model_id: s.modelId }, s.isReady ? 1 : 0);
      },
    });
    const restarts: Gauge<'model_id'> = metrics.gauge({
      name: 'magi_fleet_server_restarts',
      help: 'Restarts of each server since the fleet last started it',
      labelNames: ['model_id'],
      collect: () => {
        restarts.reset();
        for (const s of fleet.list()) restarts.set({ model_id: s.modelId }, s.restarts);
      },
    });
  }

  onModuleDestroy(): void {
    this.subscription.unsubscribe();
  }
}

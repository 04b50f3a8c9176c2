import { Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { SERVER_STATES } from '../common/vocabulary/server-states';
import { MetricsService } from '../metrics/metrics.service';
import { FleetService } from './fleet.service';

/** Fleet gauges, read from the supervisors at scrape time (labels: states and model ids, both bounded). */
@Injectable()
export class FleetMetrics {
  constructor(metrics: MetricsService, fleet: FleetService) {
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
}

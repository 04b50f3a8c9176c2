import { Injectable } from '@nestjs/common';
import * as net from 'node:net';

/** Port-availability port: can a listener bind `host:port` right now? */
export abstract class PortProbe {
  abstract isFree(port: number, host: string): Promise<boolean>;
}

/** Try-bind check: listens on the port for an instant, then closes it again. */
@Injectable()
export class NetPortProbe extends PortProbe {
  isFree(port: number, host: string): Promise<boolean> {
    return new Promise((resolve) => {
      const srv = net.createServer();
      srv.unref();
      srv.once('error', () => resolve(false));
      // exclusive: a cluster primary must not hand us a shared handle.
      srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
    });
  }
}

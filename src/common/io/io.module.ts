import { Global, Module } from '@nestjs/common';
import { Clock, SystemClock } from './clock';
import { FileStore, NodeFileStore } from './file-store';
import { AxiosHttpClient, HttpClient } from './http-client';
import { NetPortProbe, PortProbe } from './port-probe';
import { NodeProcessLauncher, ProcessLauncher } from './process-launcher';

/** The I/O ports, registered once; feature modules inject the abstract classes. */
@Global()
@Module({
  providers: [
    { provide: FileStore, useClass: NodeFileStore },
    { provide: Clock, useClass: SystemClock },
    { provide: HttpClient, useClass: AxiosHttpClient },
    { provide: ProcessLauncher, useClass: NodeProcessLauncher },
    { provide: PortProbe, useClass: NetPortProbe },
  ],
  exports: [FileStore, Clock, HttpClient, ProcessLauncher, PortProbe],
})
export class IoModule {}

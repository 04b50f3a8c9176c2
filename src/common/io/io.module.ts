import { Global, Module } from '@nestjs/common';
import { Clock, SystemClock } from './clock';
import { FileStore, NodeFileStore } from './file-store';
import { AxiosHttpClient, HttpClient } from './http-client';
import { NetPortProbe, PortProbe } from './port-probe';
import { NodeProcessLauncher, ProcessLauncher } from './process-launcher';
import { ProcessMemory, ProcfsProcessMemory } from './process-memory';

/** The I/O ports, registered once; feature modules inject the abstract classes. */
@Global()
@Module({
  providers: [
    { provide: FileStore, useClass: NodeFileStore },
    { provide: Clock, useClass: SystemClock },
    { provide: HttpClient, useClass: AxiosHttpClient },
    { provide: ProcessLauncher, useClass: NodeProcessLauncher },
    { provide: PortProbe, useClass: NetPortProbe },
    { provide: ProcessMemory, useClass: ProcfsProcessMemory },
  ],
  exports: [FileStore, Clock, HttpClient, ProcessLauncher, PortProbe, ProcessMemory],
})
export class IoModule {}

import { Global, Module } from '@nestjs/common';
import { Clock, SystemClock } from './clock';
import { FileStore, NodeFileStore } from './file-store';
import { AxiosHttpClient, HttpClient } from './http-client';

/** The I/O ports, registered once; feature modules inject the abstract classes. */
@Global()
@Module({
  providers: [
    { provide: FileStore, useClass: NodeFileStore },
    { provide: Clock, useClass: SystemClock },
    { provide: HttpClient, useClass: AxiosHttpClient },
  ],
  exports: [FileStore, Clock, HttpClient],
})
export class IoModule {}

import { Global, Module } from '@nestjs/common';
import { Clock, SystemClock } from './clock';
import { FileStore, NodeFileStore } from './file-store';

/** The I/O ports, registered once; feature modules inject the abstract classes. */
@Global()
@Module({
  providers: [
    { provide: FileStore, useClass: NodeFileStore },
    { provide: Clock, useClass: SystemClock },
  ],
  exports: [FileStore, Clock],
})
export class IoModule {}

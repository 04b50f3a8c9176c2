import { Module } from '@nestjs/common';
import { ProfilesModule } from '../profiles/profiles.module';
import { RegistryModule } from '../registry/registry.module';
import { ServersModule } from '../servers/servers.module';
import { DownloadFiles, NodeDownloadFiles } from './download-files';
import { DownloadMetrics } from './download-metrics';
import { DownloadsController } from './downloads.controller';
import { DownloadsService } from './downloads.service';
import { DownloadsStore } from './downloads.store';
import { FileTransferService } from './file-transfer.service';
import { HubClient } from './hub-client';
import { HubHttp, UndiciHubHttp } from './hub-http';
import { HubListingService } from './hub-listing.service';

/** Hub listings with remote memory estimates, and verified, resumable downloads into MODEL_SCAN_PATH (API.md §10). */
@Module({
  imports: [RegistryModule, ProfilesModule, ServersModule],
  controllers: [DownloadsController],
  providers: [
    { provide: HubHttp, useClass: UndiciHubHttp },
    { provide: DownloadFiles, useClass: NodeDownloadFiles },
    HubClient,
    HubListingService,
    FileTransferService,
    DownloadsStore,
    DownloadMetrics,
    DownloadsService,
  ],
})
export class DownloadsModule {}

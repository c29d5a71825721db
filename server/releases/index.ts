/** The release service (service.ts). */
export * from './service';

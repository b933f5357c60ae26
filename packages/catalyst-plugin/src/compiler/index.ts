export * from './api';
export { compileService, renderDiagnostics } from './compile';

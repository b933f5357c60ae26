export * from './api';
export { decodeDefinition } from './parse/decode';
export { compileService, renderDiagnostics } from './compile';
export type { Diagnostic, DiagnosticCode, JsonPath } from './report/diagnostics';
export { workflowJsonSchema, workflowJsonSchemaText } from './validate/json-schema';

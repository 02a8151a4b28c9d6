/**
 * Tracing for the sample, only when SAMPLE_TRACE_FILE names a file: main.ts imports this module
 * first, so every worker sets up its own tracing before its app starts. Without the variable no
 * OpenTelemetry package is loaded at all.
 */
const file = process.env.SAMPLE_TRACE_FILE;
if (file) {
  const { traceToFile } = await import('./trace-to-file.js');
  traceToFile(file);
}

export {};

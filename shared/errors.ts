/** An error as one log-safe line: its name and message, never its stack or cause chain. */
export const errorSummary = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error';

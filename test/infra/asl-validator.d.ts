// asl-validator ships no type declarations; this is the part of its API the tests use.
declare module 'asl-validator' {
  interface ValidationResult {
    readonly isValid: boolean;
    readonly errors: readonly Readonly<Record<string, unknown>>[];
    readonly errorsText: (separator?: string) => string;
  }
  interface ValidationOptions {
    readonly checkPaths: boolean;
    readonly checkArn: boolean;
  }
  function validator(definition: unknown, options?: ValidationOptions): ValidationResult;
  export default validator;
}

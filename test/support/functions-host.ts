import Module from "node:module";

/**
 * Loads the Functions app the way the Azure Functions Node.js worker does: the worker provides the module
 * `@azure/functions-core`, and @azure/functions registers each function with it (metadata with every binding,
 * plus the handler). Providing that module here captures the real registrations — trigger types, schedules,
 * routes, methods, queues, connections, auth levels — instead of the library's test mode, which skips them.
 */
export interface RegisteredBinding {
  type: string;
  direction: "in" | "out";
  [property: string]: unknown;
}

export interface RegisteredFunction {
  name: string;
  bindings: Record<string, RegisteredBinding>;
  retryOptions?: unknown;
  handler: (...args: unknown[]) => unknown;
}

export function installFakeFunctionsCore(): RegisteredFunction[] {
  const registered: RegisteredFunction[] = [];
  const fakeCore = {
    version: "4.0.0-test",
    hostVersion: "4.1040.0",
    setProgrammingModel: () => undefined,
    getProgrammingModel: () => undefined,
    registerHook: () => ({ dispose: () => undefined }),
    log: () => undefined,
    registerFunction(metadata: { name: string; bindings: Record<string, RegisteredBinding>; retryOptions?: unknown }, handler: RegisteredFunction["handler"]) {
      registered.push({ name: metadata.name, bindings: metadata.bindings, retryOptions: metadata.retryOptions, handler });
      return { dispose: () => undefined };
    },
  };
  type Loader = (request: string, parent: unknown, isMain: boolean) => unknown;
  const moduleWithLoad = Module as unknown as { _load: Loader };
  const original = moduleWithLoad._load;
  moduleWithLoad._load = function (request: string, parent: unknown, isMain: boolean) {
    if (request === "@azure/functions-core") return fakeCore;
    return original.call(this, request, parent, isMain);
  };
  return registered;
}

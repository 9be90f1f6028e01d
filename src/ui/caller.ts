/**
 * How a view's state class calls the worker: through the Lab's serialised caller (one command at a
 * time, `busy` while it runs), so view states need only this type and not the Lab that owns them.
 */
import type * as Comlink from 'comlink';
import type { LabApi } from '../lab/api.ts';

export type Caller = <T>(f: (api: Comlink.Remote<LabApi>) => Promise<T>, busy?: boolean) => Promise<T>;

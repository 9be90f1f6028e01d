/** The post-training stages' types under the path the page imports them from; they live in stages/ and chat-data.ts. */
export type { ChatFile, LineError, OwnChatData, StageEnv } from './chat-data.ts';
export type { DpoSettings } from './stages/dpo.ts';
export type { CompareOptions, MaskedChat, ReportCard, Stage, StageHistory, StageReply, StageReport } from './stages/reports.ts';
export type { SftSettings } from './stages/sft.ts';
export type { DpoLossType } from '../core/post/dpo.ts';

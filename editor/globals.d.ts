/** What a node's editor script finds in the editor's page: Node-RED's RED, and our TwilioEditor (editor/twilio-editor.ts). */
import type * as EditorClient from '@node-red/editor-client';
import type { TwilioEditorApi } from './twilio-editor';

declare global {
  const RED: EditorClient.RED;
  const TwilioEditor: TwilioEditorApi;
}

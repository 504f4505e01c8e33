/**
 * smallcode's JupyterLab side panel: registers the panel in the right sidebar, a command (with a
 * keyboard shortcut) that opens it and focuses the task box, and "Fix this error" on code cells.
 */
import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { INotebookTracker } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';

import { SmallcodePanel } from './panel';

const ICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
  '<path class="jp-icon3" fill="#616161" d="M8.6 16.6 4 12l4.6-4.6L7.2 6 1.2 12l6 6 1.4-1.4Zm6.8 0L20 12l-4.6-4.6L16.8 6l6 6-6 6-1.4-1.4Z"/>' +
  '<circle class="jp-icon-accent1" fill="#616161" cx="12" cy="12" r="2.2"/></svg>';

export const smallcodeIcon = new LabIcon({
  name: 'smallcode-jupyter:icon',
  svgstr: ICON_SVG
});

namespace CommandIDs {
  export const open = 'smallcode:open';
  export const fix = 'smallcode:fix-cell';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'smallcode-jupyter:plugin',
  description: 'A side panel that drives the smallcode agent loop in the notebook kernel.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ILabShell, ICommandPalette, IEditorLanguageRegistry],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    labShell: ILabShell | null,
    palette: ICommandPalette | null,
    languages: IEditorLanguageRegistry | null
  ) => {
    const panel = new SmallcodePanel(tracker, languages);
    panel.title.icon = smallcodeIcon;
    app.shell.add(panel, 'right', { rank: 600 });

    app.commands.addCommand(CommandIDs.open, {
      label: 'smallcode: Open the panel',
      caption: 'Open the smallcode panel and focus the task box',
      execute: () => {
        app.shell.activateById(panel.id);
        panel.focusTask();
      }
    });
    app.commands.addCommand(CommandIDs.fix, {
      label: 'Fix this error with smallcode',
      caption: 'Repair the cell that raised (the active one, else the last) with smallcode',
      isEnabled: () => panel.canFix(),
      execute: () => {
        app.shell.activateById(panel.id);
        panel.fixActiveCell();
      }
    });
    app.commands.addKeyBinding({
      command: CommandIDs.open,
      keys: ['Accel Shift Y'],
      selector: 'body'
    });
    app.contextMenu.addItem({
      command: CommandIDs.fix,
      selector: '.jp-CodeCell',
      rank: 20
    });
    if (palette) {
      palette.addItem({ command: CommandIDs.open, category: 'smallcode' });
      palette.addItem({ command: CommandIDs.fix, category: 'smallcode' });
    }
    void labShell;
  }
};

export default plugin;

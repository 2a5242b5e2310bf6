" Vim filetype plugin
" Language:     flow (flowc's HTTP orchestration language)
" Filenames:    *.flow

if exists('b:did_ftplugin')
  finish
endif
let b:did_ftplugin = 1

let s:cpo_save = &cpo
set cpo&vim

" `#` starts a comment that runs to the end of the line.
setlocal commentstring=#\ %s
setlocal comments=:#
" Wrap comments, not code; continue comments on new lines.
setlocal formatoptions-=t formatoptions+=croql
" Four spaces, as in the examples; indentation itself is indent/flow.vim.
setlocal expandtab shiftwidth=4 softtabstop=4
" `gf` on an `import "common.flow"` line opens the file.
setlocal suffixesadd=.flow
setlocal include=^\\s*import\\s\\+[\"']

let b:undo_ftplugin = 'setlocal commentstring< comments< formatoptions< expandtab<'
      \ . ' shiftwidth< softtabstop< suffixesadd< include<'

let &cpo = s:cpo_save
unlet s:cpo_save

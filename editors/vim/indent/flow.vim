" Vim indent file
" Language:     flow (flowc's HTTP orchestration language)
" Filenames:    *.flow
"
" Brace-based: a line is indented one 'shiftwidth' deeper than the line
" before it when that line leaves a `{`, `(` or `[` open, and a line that
" starts with `}`, `)` or `]` goes back one level.  Brackets inside strings
" and comments do not count; lines inside a triple-quoted string keep their
" indent.  The clauses between a flow's signature and its body are indented
" one level, and the body's `{` goes back to the `flow` line:
"
"     flow f(x: int) -> int
"         timeout 60s
"     {

if exists('b:did_indent')
  finish
endif
let b:did_indent = 1

setlocal autoindent nolisp nosmartindent nocindent
setlocal indentexpr=GetFlowIndent(v:lnum)
setlocal indentkeys=0{,0},0),0],!^F,o,O

let b:undo_indent = 'setlocal autoindent< lisp< smartindent< cindent< indentexpr< indentkeys<'

if exists('*GetFlowIndent')
  finish
endif

let s:cpo_save = &cpo
set cpo&vim

" [closers at the start of the line, brackets left open at its end]
" (a closer that matches an opener on the same line cancels it).
function! s:Brackets(line) abort
  let leading = 0
  let depth = 0
  let seen_code = 0
  let quote = ''
  let i = 0
  let n = strlen(a:line)
  while i < n
    let c = a:line[i]
    if quote !=# ''
      if c ==# '\'
        let i += 1
      elseif a:line[i : i + strlen(quote) - 1] ==# quote
        let i += strlen(quote) - 1
        let quote = ''
      endif
    elseif c ==# '#'
      break
    elseif c ==# '"' || c ==# "'"
      let quote = a:line[i : i + 2] ==# repeat(c, 3) ? repeat(c, 3) : c
      let i += strlen(quote) - 1
      let seen_code = 1
    elseif c =~# '[{(\[]'
      let depth += 1
      let seen_code = 1
    elseif c =~# '[})\]]'
      if depth > 0
        let depth -= 1
      elseif !seen_code
        let leading += 1
      else
        let depth -= 1
      endif
    elseif c !~# '\s'
      let seen_code = 1
    endif
    let i += 1
  endwhile
  return [leading, depth]
endfunction

" The `flow` line whose signature and clauses end at line `lnum`, or 0.
function! s:FlowHeader(lnum) abort
  let lnum = a:lnum
  while lnum > 0 && lnum > a:lnum - 10
    let text = getline(lnum)
    let [leading, open] = s:Brackets(text)
    if text =~# '^\s*flow\>'
      return open == 0 ? lnum : 0
    endif
    if leading > 0 || open != 0
      return 0
    endif
    let lnum = prevnonblank(lnum - 1)
  endwhile
  return 0
endfunction

function! GetFlowIndent(lnum) abort
  " Inside a multi-line (triple-quoted) string: leave the line alone.
  if exists('g:syntax_on') && synIDattr(synID(a:lnum, 1, 1), 'name') =~# 'String\|RawString\|Bytes'
    return -1
  endif
  let prev = prevnonblank(a:lnum - 1)
  if prev == 0
    return 0
  endif
  let line = getline(a:lnum)
  let ind = indent(prev)
  let [_, open] = s:Brackets(getline(prev))
  let header = s:FlowHeader(prev)
  if header > 0 && line =~# '^\s*{'
    return indent(header)
  endif
  if open == 0 && getline(prev) =~# '^\s*flow\>'
    return ind + shiftwidth()
  endif
  if open > 0
    let ind += shiftwidth()
  elseif open < 0
    let ind -= shiftwidth()
  endif
  if line =~# '^\s*[})\]]'
    let ind -= shiftwidth()
  endif
  return max([ind, 0])
endfunction

let &cpo = s:cpo_save
unlet s:cpo_save

" *.flow files are flowc's HTTP orchestration language.
autocmd BufRead,BufNewFile *.flow setfiletype flow

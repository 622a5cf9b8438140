@echo off
rem khreset-setupcomplete version=0.1.0
rem SetupComplete.cmd baked by `khreset bake` (SPEC section 7).
rem Registers the retry task first (so a run that is cut short, or stays
rem pending, is retried at once and at every boot), runs khreset once - it
rem removes the task again when the system is repaired or healthy - then calls
rem the SetupComplete.cmd this image had before, kept beside this one as
rem SetupComplete.chained.cmd (Setup itself runs only SetupComplete.cmd and
rem ErrorHandler.cmd here): its own folder is this one, and the working folder
rem is the one Setup gave this script, so its relative paths work as before.
rem Runs as SYSTEM before the first logon: keep it short, never reboot.
rem Setup ignores the exit code; this script always exits 0.
setlocal EnableExtensions DisableDelayedExpansion
set "KH_DIR=%WINDIR%\Setup\Scripts\khreset"
set "KH_EXE=%KH_DIR%\khreset.exe"
set "KH_CHAINED=%WINDIR%\Setup\Scripts\SetupComplete.chained.cmd"
set "KH_LOGDIR=%WINDIR%\Logs\khreset"
set "KH_LOG=%KH_LOGDIR%\setupcomplete.log"
if not exist "%KH_LOGDIR%\" mkdir "%KH_LOGDIR%" >nul 2>&1
>>"%KH_LOG%" echo %DATE% %TIME% setupcomplete start version=0.1.0
if not exist "%KH_EXE%" (
	>>"%KH_LOG%" echo %DATE% %TIME% khreset.exe missing, skipped
	goto chain
)
"%KH_EXE%" task install >>"%KH_LOG%" 2>&1
set "KH_RC=%ERRORLEVEL%"
>>"%KH_LOG%" echo %DATE% %TIME% khreset task install exit=%KH_RC%
"%KH_EXE%" run --wait 30 >>"%KH_LOG%" 2>&1
set "KH_RC=%ERRORLEVEL%"
>>"%KH_LOG%" echo %DATE% %TIME% khreset run exit=%KH_RC%
:chain
if not exist "%KH_CHAINED%" goto done
>>"%KH_LOG%" echo %DATE% %TIME% calling SetupComplete.chained.cmd
call "%KH_CHAINED%"
>>"%KH_LOG%" echo %DATE% %TIME% SetupComplete.chained.cmd exit=%ERRORLEVEL%
:done
>>"%KH_LOG%" echo %DATE% %TIME% setupcomplete end
endlocal
exit /b 0

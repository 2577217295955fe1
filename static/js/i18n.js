// English and Chinese for the whole UI.
//
// Pure part (tested in node): STRINGS, translate(), pickLanguage(), format().
// Browser part: getLang(), setLang(), t(), applyI18n(), onLangChange().
// Templates render the same strings server-side with the `T` macro of
// templates/base.html; tests/js/i18n.test.js checks that they agree.

export const LANGS = ['en', 'zh'];

export const STRINGS = {
  en: {
    'app.name': 'ProcLab',
    'app.tagline': 'Linux processes and IPC, on the real kernel',
    'a11y.skip': 'Skip to content',
    'nav.lessons': 'Lessons',
    'nav.back': 'All lessons',
    'lang.other': '中文',
    'lang.switch': 'Switch language to Chinese',
    'theme.toggle': 'Switch between light and dark theme',
    'theme.dark': 'Dark',
    'theme.light': 'Light',
    'health.title': 'Notes from the server',
    'index.heading': 'Lessons',
    'index.intro': 'Each lesson runs a small Python program on the real Linux kernel. Watch its processes being born, running, blocking, becoming zombies and being reaped.',
    'index.open': 'Open lesson',
    'index.empty': 'No lessons found.',
    'lesson.text': 'Lesson',
    'lesson.objectives': 'You will learn',
    'lesson.questions': 'Predict, then run',
    'lesson.questionsHint': 'Write down what you expect before you press Run. After the run, the real answer from the kernel appears next to yours.',
    'q.yourGuess': 'Your prediction',
    'q.real': 'Real run',
    'q.match': 'Matches your prediction',
    'q.mismatch': 'Differs from your prediction',
    'q.noPrediction': 'no prediction',
    'q.pending': 'run the program to find out',
    'q.choose': 'Choose…',
    'q.noAnswer': 'not measured',
    'code.title': 'Code',
    'code.reset': 'Reset',
    'code.resetLabel': 'Restore the lesson’s original code',
    'code.edited': 'edited',
    'code.editorLabel': 'Source code of {file}',
    'code.keys': 'Ctrl+Enter runs · Esc, then Tab, leaves the editor',
    'ctl.run': 'Run',
    'ctl.runAgain': 'Run again',
    'ctl.stop': 'Stop',
    'ctl.pause': 'Pause',
    'ctl.resume': 'Resume',
    'ctl.stepMode': 'Step mode',
    'ctl.step': 'Step',
    'ctl.slow': 'Slow motion',
    'ctl.label': 'Run controls',
    'status.idle': 'Ready to run',
    'status.starting': 'Starting…',
    'status.queued': 'Waiting for a free slot (position {n})',
    'status.running': 'Running',
    'status.paused': 'Paused',
    'status.step': 'Step mode: press Step to let the next traced call run',
    'status.slow': 'Running in slow motion',
    'status.finished': 'Finished',
    'status.reconnecting': 'Connection lost, reconnecting…',
    'status.replay': 'Recorded run',
    'status.loading': 'Loading…',
    'timeline.label': 'Timeline',
    'timeline.live': 'Live',
    'timeline.liveLabel': 'Follow the run live',
    'timeline.play': 'Play',
    'timeline.pause': 'Pause',
    'timeline.prev': 'Previous event',
    'timeline.next': 'Next event',
    'timeline.at': '{t} · event {n} of {total}',
    'timeline.slider': 'Moment of the run shown by every view',
    'view.tree': 'Process tree',
    'view.states': 'Five-state model',
    'view.lanes': 'States over time',
    'view.ipc': 'Communication',
    'view.terminal': 'Terminal',
    'view.expand': 'Enlarge',
    'view.restore': 'Restore',
    'view.views': 'Views',
    'state.new': 'new',
    'state.ready': 'ready',
    'state.running': 'running',
    'state.blocked': 'blocked',
    'state.stopped': 'stopped',
    'state.zombie': 'zombie',
    'state.terminated': 'terminated',
    'state.inferredZombie': 'exited, not yet reaped',
    'states.outside': 'outside the five states',
    'edge.new-ready': 'admit',
    'edge.ready-running': 'dispatch',
    'edge.running-ready': 'preempt',
    'edge.running-blocked': 'wait',
    'edge.blocked-ready': 'wake up',
    'edge.running-zombie': 'exit',
    'edge.zombie-terminated': 'reaped',
    'states.legend': 'Each token is a process: pid and its raw ps STAT letter. Arrows count the transitions really taken; dashed arrows are transitions the textbook does not draw (a short state fell between two samples).',
    'states.more': '+{n} more',
    'tree.init': 'init',
    'tree.initHint': 'adopts orphans',
    'tree.reapedBy': 'reaped by {by}',
    'tree.exitCode': 'exit {code}',
    'tree.killed': 'killed by {signal}',
    'tree.adopted': 'adopted by init',
    'tree.threads': '{n} threads',
    'tree.empty': 'Press Run: the processes of the program appear here.',
    'tree.summary': '{n} processes seen · {alive} still in the kernel',
    'proc.menu': 'Send a signal to process {pid}',
    'proc.menuTitle': 'Signal to {pid}',
    'proc.signalSent': 'Sent {signal} to {pid}',
    'proc.signalFailed': 'Could not send {signal} to {pid}: {error}',
    'proc.notRunning': 'The run is not active',
    'proc.details': 'Process {pid}',
    'proc.parent': 'parent {ppid}',
    'proc.line': 'line {line}',
    'term.input': 'Standard input of the program',
    'term.inputPlaceholder': 'Type a line for the program’s standard input, then Enter',
    'term.send': 'Send',
    'term.truncated': '… {bytes} bytes of output were dropped (output limit)',
    'term.empty': 'Output of every process appears here, labelled with its pid.',
    'term.sent': 'sent',
    'ipc.empty': 'No pipes, queues, shared values or signals yet.',
    'ipc.bytes': '{w} B written · {r} B read',
    'ipc.value': 'value {v}',
    'ipc.log': 'Recent data and signals',
    'ipc.you': 'you',
    'ipc.signalFrom': '{signal} from {from} to {to}',
    'ipc.write': '{pid} wrote {n} B',
    'ipc.read': '{pid} read {n} B',
    'ipc.op': '{pid}: {op}',
    'kind.pipe': 'pipe',
    'kind.fifo': 'FIFO',
    'kind.socket': 'socket',
    'kind.file': 'file',
    'kind.queue': 'queue',
    'kind.mp_pipe': 'Pipe',
    'kind.value': 'shared value',
    'kind.array': 'shared array',
    'kind.semaphore': 'semaphore',
    'kind.lock': 'lock',
    'kind.event': 'event',
    'end.read': 'read end',
    'end.write': 'write end',
    'end.both': 'both ends',
    'lanes.empty': 'After Run, one lane per process shows its state over time.',
    'lanes.time': 'time',
    'lanes.thread': 'thread {tid}',
    'banner.title': 'Why it stopped',
    'banner.killed': 'The main process was ended by the signal {signal}.',
    'banner.killedFrom': 'The main process was ended by the signal {signal}, sent by {from}.',
    'banner.killedByYou': 'The main process was ended by the signal {signal}, which you sent.',
    'banner.exitCode': 'The main process exited with code {code}.',
    'banner.stopped': 'You stopped the run.',
    'banner.limit': 'A limit was reached ({limit}).',
    'banner.error': 'The sandbox could not run the program: {detail}',
    'banner.ok': 'The program finished.',
    'banner.duration': 'Ran for {ms} ms · {p} processes · {e} events',
    'limit.processes': 'too many processes',
    'limit.memory': 'too much memory',
    'limit.cpu': 'too much CPU time',
    'limit.wall': 'ran too long',
    'limit.output': 'too much output',
    'limit.files': 'files too large',
    'limit.leftover': 'processes left behind',
    'run.failed': 'Could not start the run: {error}',
    'run.controlFailed': 'The server refused: {error}',
    'replay.title': 'Recorded run {id}',
    'replay.lesson': 'Lesson',
    'replay.openLesson': 'Open the lesson',
    'replay.link': 'Recording of this run',
    'replay.loadFailed': 'Could not load the recording: {error}',
    'replay.download': 'Download recording',
    'signal.SIGINT': 'interrupt (Ctrl-C)',
    'signal.SIGTERM': 'please terminate',
    'signal.SIGKILL': 'kill, cannot be caught',
    'signal.SIGSTOP': 'stop (suspend)',
    'signal.SIGCONT': 'continue',
    'signal.SIGUSR1': 'user signal 1',
    'footer.text': 'Every state shown was read from the Linux kernel while the program ran.',
    'room.title': 'Classroom {code}',
    'room.code': 'Room code',
    'room.join': 'Students join at',
    'room.copy': 'Copy link',
    'room.copied': 'Link copied',
    'room.runs': 'Runs in this room',
    'room.follow': 'Follow the newest run',
    'room.none': 'No run yet: the instructor will start one.',
    'room.lesson': 'Lesson',
    'room.start': 'Run for the class',
    'room.clients': '{n} connected',
    'room.run': 'Run {n} · {lesson}',
    'room.create': 'Start a classroom',
    'room.signin': 'Instructor sign-in',
    'room.signout': 'Sign out',
    'room.instructor': 'Instructor',
    'room.live': 'live',
    'room.qr': 'QR code of the join link',
    'room.project': 'Show on the projector',
    'room.projectClose': 'Close (Esc)',
    'room.scan': 'Scan the code, or open',
    'room.students': '{n} students connected',
    'room.student1': '1 student connected',
    'author.title': 'Instructor',
    'author.hint': 'Save (Ctrl+S) checks the open file and writes it into the lesson on the server. Check lesson runs the saved lesson in the sandbox and tests every expectation.',
    'author.save': 'Save',
    'author.saveLabel': 'Save {file} into the lesson (Ctrl+S)',
    'author.saving': 'Saving {file}…',
    'author.saved': 'Saved {file}: the lesson was reloaded',
    'author.savedShort': 'Saved',
    'author.problemTitle': 'Not saved: the lesson would be broken',
    'author.problemAt': '{file}, line {line}',
    'author.notSaved': 'Nothing was saved; the lesson on the server is unchanged.',
    'author.notSavedTitle': 'Not saved',
    'author.goToLine': 'Go to line {line}',
    'author.dismiss': 'Dismiss',
    'author.saveFailed': 'Could not save {file}: {error}',
    'author.check': 'Check lesson',
    'author.checking': 'Running the saved lesson in the sandbox…',
    'author.checkFailed': 'The check could not run: {error}',
    'author.allPass': 'All {n} expectations hold',
    'author.somePass': '{failed} of {n} expectations failed',
    'author.noExpect': 'This lesson has no expectations yet (expect: in lesson.md).',
    'author.expectations': 'Expectations',
    'author.pass': 'holds',
    'author.fail': 'failed',
    'author.notChecked': 'not checked yet',
    'author.checkRun': 'Replay of the check run',
    'author.unsaved': 'Unsaved changes are not part of the check: save first.',
    'author.lessonTab': 'lesson.md: front matter and text of the lesson (not run)',
    'author.renamed': 'The lesson’s id is now {id}: opening it',
    'code.keysAuthor': 'Ctrl+S saves · Ctrl+Enter runs · Esc, then Tab, leaves the editor',
    'code.changed': '{file} (unsaved changes)',
    'exp.exactly': 'exactly {n}',
    'exp.between': '{lo} to {hi}',
    'exp.atLeast': 'at least {n}',
    'exp.atMost': 'at most {n}',
    'exp.anyChannel': 'any channel',
    'exp.finished': 'The run ends with status “{status}”',
    'exp.limit': 'A limit is reached: {limit}',
    'exp.exitCode': 'The main process exits with code {code}',
    'exp.outputContains': 'The output contains “{text}”',
    'exp.outputMatches': 'An output line matches {re}',
    'exp.outputLines': '{bounds} lines of output',
    'exp.processes': '{bounds} processes in the run',
    'exp.threads': '{bounds} threads in a process at one time',
    'exp.state': 'A process is {state}',
    'exp.stateReason': 'A process is {state}, in {reason}',
    'exp.reparent': 'A process gets a new parent',
    'exp.reparentInit': 'An orphan is adopted by init',
    'exp.reapedParent': 'A child is reaped by its parent',
    'exp.reapedInit': 'A process is reaped by init',
    'exp.exitAny': 'A process exits with code {code}',
    'exp.exitSignal': 'A process is ended by {signal}',
    'exp.exec': 'A process runs {program} with exec',
    'exp.signal': '{signal} is sent or handled',
    'exp.signalHandled': '{signal} is handled ({action})',
    'exp.transfer': '{bounds} bytes are read through {channel}',
    'exp.channel': 'A {channel} is used',
    'exp.op': '{op} on {channel}',
    'exp.opAny': 'An operation on {channel}',
    'exp.event': 'An event {type} happens',
    'import.button': 'Import a recording',
    'import.file': 'Recording file (.ndjson)',
    'import.busy': 'Importing {name}…',
    'import.failed': 'The recording was not imported: {error}',
    'signin.title': 'Instructor sign-in',
    'signin.off': 'Instructor features are off on this server: start it with PROCLAB_INSTRUCTOR_TOKEN set.',
    'signin.token': 'Instructor token',
    'signin.wrong': 'That token is not right.',
    'signin.submit': 'Sign in',
    // classroom
    "class.title": "Class view",
    "class.students": "Students",
    "class.predictions": "Class predictions",
    "class.wall": "Live wall",
    "class.progress": "Progress",
    "class.csv": "Download CSV",
    "class.projector": "Projector view",
    "class.voteAgain": "Vote again",
    "class.round": "Round {n}",
    "class.answered": "{n} answered",
    "class.kernel": "the kernel",
    "class.noKernel": "The kernel's answer appears after the run.",
    "class.kernelSays": "The kernel says: {answer}",
    "class.lesson": "Lesson",
    "class.rename": "Rename",
    "class.remove": "Remove",
    "class.renamePrompt": "New nickname for {name}",
    "class.noStudents": "Nobody has joined yet.",
    "class.noRun": "no run yet",
    "class.stuck": "stuck: {reason}",
    "class.watch": "Watch",
    "class.show": "Show to class",
    "class.hide": "Stop showing",
    "class.processes": "{n} processes, {alive} alive",
    "class.limit": "limit: {limit}",
    "class.error": "error: {error}",
    "class.passed": "all goals passed",
    "class.notPassed": "goals not met yet",
    "class.st.queued": "waiting",
    "class.st.running": "running",
    "class.st.ok": "finished",
    "class.st.error": "error",
    "class.st.limit": "limit hit",
    "class.st.stopped": "stopped",
    "class.studentPage": "Student page",
    "class.outcomes": "Outcomes of the students' runs",
    "class.count": "Count the outcomes",
    "class.signin": "Sign in as the instructor to see the class view.",
    "class.attempts": "{n} attempts",
    "student.title": "Join the class",
    "student.nickname": "Your nickname",
    "student.join": "Join",
    "student.joined": "You are {name}",
    "student.predict": "Predict before the run",
    "student.send": "Send",
    "student.sent": "Sent",
    "student.exercise": "Exercise",
    "student.hints": "Hints",
    "student.run": "Run and grade",
    "student.goals": "Goals checked by the kernel",
    "student.evidence": "see event #{seq}",
    "student.allPassed": "All goals passed",
    "student.someFailed": "Not yet: {n} goals to go",
    "student.waiting": "Running…",
    "student.position": "In the queue, position {n}",
    "student.removed": "You are not in this room (any more): join again.",
    "student.exercises": "Exercises",
    "student.progress": "Your progress: {done} of {total}",
    "student.reset": "Back to the starter code",
    "student.watchRun": "Open the run",
    "batch.title": "Run it many times",
    "batch.count": "Runs",
    "batch.start": "Run as a batch",
    "batch.progress": "{done} of {n} finished",
    "batch.hint": "The same code, run again and again: the bars show how often each outcome (the order of the output lines) happened. A bar opens a replay of one run.",
  },
  zh: {
    'app.name': 'ProcLab',
    'app.tagline': '在真实的内核上学习 Linux 进程与进程间通信',
    'a11y.skip': '跳到正文',
    'nav.lessons': '课程',
    'nav.back': '全部课程',
    'lang.other': 'English',
    'lang.switch': '切换为英文界面',
    'theme.toggle': '切换浅色/深色主题',
    'theme.dark': '深色',
    'theme.light': '浅色',
    'health.title': '服务器提示',
    'index.heading': '课程',
    'index.intro': '每一课都在真实的 Linux 内核上运行一个小的 Python 程序。观察进程如何诞生、运行、阻塞、变成僵尸并被回收。',
    'index.open': '打开课程',
    'index.empty': '没有找到课程。',
    'lesson.text': '课文',
    'lesson.objectives': '学习目标',
    'lesson.questions': '先预测，再运行',
    'lesson.questionsHint': '按下“运行”之前，先写下你的预测。运行结束后，内核给出的真实答案会显示在旁边。',
    'q.yourGuess': '你的预测',
    'q.real': '实际运行',
    'q.match': '与你的预测一致',
    'q.mismatch': '与你的预测不同',
    'q.noPrediction': '未预测',
    'q.pending': '运行程序后揭晓',
    'q.choose': '请选择…',
    'q.noAnswer': '未测得',
    'code.title': '代码',
    'code.reset': '还原',
    'code.resetLabel': '还原课程的原始代码',
    'code.edited': '已修改',
    'code.editorLabel': '{file} 的源代码',
    'code.keys': 'Ctrl+Enter 运行 · 先按 Esc 再按 Tab 离开编辑器',
    'ctl.run': '运行',
    'ctl.runAgain': '再次运行',
    'ctl.stop': '停止',
    'ctl.pause': '暂停',
    'ctl.resume': '继续',
    'ctl.stepMode': '单步模式',
    'ctl.step': '单步',
    'ctl.slow': '慢动作',
    'ctl.label': '运行控制',
    'status.idle': '准备运行',
    'status.starting': '正在启动…',
    'status.queued': '正在排队（第 {n} 位）',
    'status.running': '运行中',
    'status.paused': '已暂停',
    'status.step': '单步模式：按“单步”放行下一个被跟踪的调用',
    'status.slow': '慢动作运行中',
    'status.finished': '已结束',
    'status.reconnecting': '连接中断，正在重新连接…',
    'status.replay': '录制的运行',
    'status.loading': '正在加载…',
    'timeline.label': '时间线',
    'timeline.live': '实时',
    'timeline.liveLabel': '实时跟随运行',
    'timeline.play': '播放',
    'timeline.pause': '暂停',
    'timeline.prev': '上一个事件',
    'timeline.next': '下一个事件',
    'timeline.at': '{t} · 第 {n} 个事件，共 {total} 个',
    'timeline.slider': '所有视图显示的运行时刻',
    'view.tree': '进程树',
    'view.states': '五状态模型',
    'view.lanes': '状态随时间变化',
    'view.ipc': '进程间通信',
    'view.terminal': '终端',
    'view.expand': '放大',
    'view.restore': '还原',
    'view.views': '视图',
    'state.new': '新建',
    'state.ready': '就绪',
    'state.running': '运行',
    'state.blocked': '阻塞',
    'state.stopped': '暂停',
    'state.zombie': '僵尸',
    'state.terminated': '终止',
    'state.inferredZombie': '已退出，尚未被回收',
    'states.outside': '五状态之外',
    'edge.new-ready': '接纳',
    'edge.ready-running': '调度',
    'edge.running-ready': '抢占',
    'edge.running-blocked': '等待',
    'edge.blocked-ready': '唤醒',
    'edge.running-zombie': '退出',
    'edge.zombie-terminated': '回收',
    'states.legend': '每个标记是一个进程：PID 和 ps 的原始 STAT 字母。箭头上的数字是真实发生的转换次数；虚线箭头是课本上没有画出的转换（某个短暂的状态落在两次采样之间）。',
    'states.more': '还有 {n} 个',
    'tree.init': 'init',
    'tree.initHint': '收养孤儿进程',
    'tree.reapedBy': '已被 {by} 回收',
    'tree.exitCode': '退出码 {code}',
    'tree.killed': '被 {signal} 终止',
    'tree.adopted': '被 init 收养',
    'tree.threads': '{n} 个线程',
    'tree.empty': '按下“运行”：程序的进程会出现在这里。',
    'tree.summary': '共出现 {n} 个进程 · {alive} 个仍在内核中',
    'proc.menu': '向进程 {pid} 发送信号',
    'proc.menuTitle': '发送信号给 {pid}',
    'proc.signalSent': '已向 {pid} 发送 {signal}',
    'proc.signalFailed': '无法向 {pid} 发送 {signal}：{error}',
    'proc.notRunning': '当前没有正在进行的运行',
    'proc.details': '进程 {pid}',
    'proc.parent': '父进程 {ppid}',
    'proc.line': '第 {line} 行',
    'term.input': '程序的标准输入',
    'term.inputPlaceholder': '输入一行发送到程序的标准输入，按回车发送',
    'term.send': '发送',
    'term.truncated': '… 有 {bytes} 字节的输出被丢弃（超出输出限制）',
    'term.empty': '每个进程的输出都会显示在这里，并标注它的 PID。',
    'term.sent': '已发送',
    'ipc.empty': '还没有管道、队列、共享值或信号。',
    'ipc.bytes': '写入 {w} 字节 · 读出 {r} 字节',
    'ipc.value': '值 {v}',
    'ipc.log': '最近的数据与信号',
    'ipc.you': '你',
    'ipc.signalFrom': '{signal}：{from} → {to}',
    'ipc.write': '{pid} 写入 {n} 字节',
    'ipc.read': '{pid} 读出 {n} 字节',
    'ipc.op': '{pid}：{op}',
    'kind.pipe': '管道',
    'kind.fifo': '命名管道',
    'kind.socket': '套接字',
    'kind.file': '文件',
    'kind.queue': '队列',
    'kind.mp_pipe': 'Pipe',
    'kind.value': '共享值',
    'kind.array': '共享数组',
    'kind.semaphore': '信号量',
    'kind.lock': '锁',
    'kind.event': '事件',
    'end.read': '读端',
    'end.write': '写端',
    'end.both': '双向',
    'lanes.empty': '运行后，每个进程一条泳道，显示它的状态随时间的变化。',
    'lanes.time': '时间',
    'lanes.thread': '线程 {tid}',
    'banner.title': '为什么停止了',
    'banner.killed': '主进程被信号 {signal} 终止。',
    'banner.killedFrom': '主进程被信号 {signal} 终止，信号来自 {from}。',
    'banner.killedByYou': '主进程被你发送的信号 {signal} 终止。',
    'banner.exitCode': '主进程以退出码 {code} 结束。',
    'banner.stopped': '你停止了这次运行。',
    'banner.limit': '达到了限制（{limit}）。',
    'banner.error': '沙箱无法运行这个程序：{detail}',
    'banner.ok': '程序运行结束。',
    'banner.duration': '运行 {ms} 毫秒 · {p} 个进程 · {e} 个事件',
    'limit.processes': '进程太多',
    'limit.memory': '内存用得太多',
    'limit.cpu': 'CPU 时间太长',
    'limit.wall': '运行时间太长',
    'limit.output': '输出太多',
    'limit.files': '文件太大',
    'limit.leftover': '有进程残留',
    'run.failed': '无法启动运行：{error}',
    'run.controlFailed': '服务器拒绝了请求：{error}',
    'replay.title': '运行记录 {id}',
    'replay.lesson': '课程',
    'replay.openLesson': '打开课程',
    'replay.link': '本次运行的录制',
    'replay.loadFailed': '无法加载录制：{error}',
    'replay.download': '下载录制文件',
    'signal.SIGINT': '中断（Ctrl-C）',
    'signal.SIGTERM': '请求终止',
    'signal.SIGKILL': '强制杀死，无法捕获',
    'signal.SIGSTOP': '暂停（挂起）',
    'signal.SIGCONT': '继续运行',
    'signal.SIGUSR1': '用户信号 1',
    'footer.text': '这里显示的每一个状态，都是程序运行时从 Linux 内核读到的。',
    'room.title': '课堂 {code}',
    'room.code': '课堂代码',
    'room.join': '学生加入地址',
    'room.copy': '复制链接',
    'room.copied': '链接已复制',
    'room.runs': '本课堂的运行',
    'room.follow': '跟随最新的运行',
    'room.none': '还没有运行：老师会开始一次运行。',
    'room.lesson': '课程',
    'room.start': '为全班运行',
    'room.clients': '{n} 人在线',
    'room.run': '第 {n} 次运行 · {lesson}',
    'room.create': '开始一个课堂',
    'room.signin': '教师登录',
    'room.signout': '退出登录',
    'room.instructor': '教师',
    'room.live': '进行中',
    'room.qr': '加入链接的二维码',
    'room.project': '投影显示',
    'room.projectClose': '关闭（Esc）',
    'room.scan': '扫描二维码，或打开',
    'room.students': '{n} 名学生在线',
    'room.student1': '1 名学生在线',
    'author.title': '教师',
    'author.hint': '保存（Ctrl+S）会先检查当前文件，再把它写入服务器上的课程。“检查课程”会在沙箱中运行已保存的课程，并逐条检验预期。',
    'author.save': '保存',
    'author.saveLabel': '把 {file} 保存到课程中（Ctrl+S）',
    'author.saving': '正在保存 {file}…',
    'author.saved': '已保存 {file}：课程已重新加载',
    'author.savedShort': '已保存',
    'author.problemTitle': '未保存：这样修改会让课程出错',
    'author.problemAt': '{file} 第 {line} 行',
    'author.notSaved': '没有保存任何内容，服务器上的课程保持不变。',
    'author.notSavedTitle': '未保存',
    'author.goToLine': '跳到第 {line} 行',
    'author.dismiss': '关闭',
    'author.saveFailed': '无法保存 {file}：{error}',
    'author.check': '检查课程',
    'author.checking': '正在沙箱中运行已保存的课程…',
    'author.checkFailed': '无法进行检查：{error}',
    'author.allPass': '全部 {n} 条预期都成立',
    'author.somePass': '{n} 条预期中有 {failed} 条未成立',
    'author.noExpect': '这节课还没有预期（lesson.md 中的 expect:）。',
    'author.expectations': '预期',
    'author.pass': '成立',
    'author.fail': '未成立',
    'author.notChecked': '尚未检查',
    'author.checkRun': '检查运行的回放',
    'author.unsaved': '未保存的修改不参与检查：请先保存。',
    'author.lessonTab': 'lesson.md：课程的元数据与正文（不会运行）',
    'author.renamed': '课程 id 已改为 {id}：正在打开',
    'code.keysAuthor': 'Ctrl+S 保存 · Ctrl+Enter 运行 · 先按 Esc 再按 Tab 离开编辑器',
    'code.changed': '{file}（有未保存的修改）',
    'exp.exactly': '正好 {n}',
    'exp.between': '{lo} 到 {hi}',
    'exp.atLeast': '至少 {n}',
    'exp.atMost': '至多 {n}',
    'exp.anyChannel': '任意通道',
    'exp.finished': '运行以状态“{status}”结束',
    'exp.limit': '达到限制：{limit}',
    'exp.exitCode': '主进程以退出码 {code} 结束',
    'exp.outputContains': '输出中包含“{text}”',
    'exp.outputMatches': '有一行输出匹配 {re}',
    'exp.outputLines': '输出行数：{bounds}',
    'exp.processes': '这次运行的进程数：{bounds}',
    'exp.threads': '一个进程中同时存在的线程数：{bounds}',
    'exp.state': '有进程处于{state}状态',
    'exp.stateReason': '有进程处于{state}状态，位于 {reason}',
    'exp.reparent': '有进程换了父进程',
    'exp.reparentInit': '有孤儿进程被 init 收养',
    'exp.reapedParent': '有子进程被它的父进程回收',
    'exp.reapedInit': '有进程被 init 回收',
    'exp.exitAny': '有进程以退出码 {code} 退出',
    'exp.exitSignal': '有进程被 {signal} 终止',
    'exp.exec': '有进程通过 exec 运行 {program}',
    'exp.signal': '发送或处理了 {signal}',
    'exp.signalHandled': '{signal} 被处理（{action}）',
    'exp.transfer': '通过{channel}读出的字节数：{bounds}',
    'exp.channel': '使用了{channel}',
    'exp.op': '{channel}上的操作 {op}',
    'exp.opAny': '{channel}上有操作',
    'exp.event': '出现事件 {type}',
    'import.button': '导入录制文件',
    'import.file': '录制文件（.ndjson）',
    'import.busy': '正在导入 {name}…',
    'import.failed': '录制文件未能导入：{error}',
    'signin.title': '教师登录',
    'signin.off': '此服务器未开启教师功能：启动时请设置 PROCLAB_INSTRUCTOR_TOKEN。',
    'signin.token': '教师令牌',
    'signin.wrong': '令牌不正确。',
    'signin.submit': '登录',
    // classroom
    "class.title": "课堂面板",
    "class.students": "学生",
    "class.predictions": "全班预测",
    "class.wall": "实时墙",
    "class.progress": "进度",
    "class.csv": "下载 CSV",
    "class.projector": "投影视图",
    "class.voteAgain": "再投一次",
    "class.round": "第 {n} 轮",
    "class.answered": "{n} 人已回答",
    "class.kernel": "内核",
    "class.noKernel": "运行之后会显示内核给出的答案。",
    "class.kernelSays": "内核的答案：{answer}",
    "class.lesson": "课程",
    "class.rename": "改名",
    "class.remove": "移除",
    "class.renamePrompt": "给 {name} 起个新昵称",
    "class.noStudents": "还没有人加入。",
    "class.noRun": "还没有运行",
    "class.stuck": "卡住：{reason}",
    "class.watch": "观看",
    "class.show": "展示给全班",
    "class.hide": "停止展示",
    "class.processes": "{n} 个进程，{alive} 个存活",
    "class.limit": "限制：{limit}",
    "class.error": "错误：{error}",
    "class.passed": "目标全部达成",
    "class.notPassed": "目标尚未达成",
    "class.st.queued": "排队中",
    "class.st.running": "运行中",
    "class.st.ok": "已结束",
    "class.st.error": "出错",
    "class.st.limit": "触发限制",
    "class.st.stopped": "已停止",
    "class.studentPage": "学生页面",
    "class.outcomes": "学生运行结果的分布",
    "class.count": "统计结果",
    "class.signin": "请以教师身份登录后查看课堂面板。",
    "class.attempts": "尝试 {n} 次",
    "student.title": "加入课堂",
    "student.nickname": "你的昵称",
    "student.join": "加入",
    "student.joined": "你是 {name}",
    "student.predict": "运行前先预测",
    "student.send": "提交",
    "student.sent": "已提交",
    "student.exercise": "练习",
    "student.hints": "提示",
    "student.run": "运行并评分",
    "student.goals": "由内核检查的目标",
    "student.evidence": "查看事件 #{seq}",
    "student.allPassed": "所有目标都已达成",
    "student.someFailed": "还差 {n} 个目标",
    "student.waiting": "运行中…",
    "student.position": "排队中，第 {n} 位",
    "student.removed": "你不在这个课堂里（或已被移出）：请重新加入。",
    "student.exercises": "练习",
    "student.progress": "你的进度：{done}/{total}",
    "student.reset": "恢复初始代码",
    "student.watchRun": "打开这次运行",
    "batch.title": "多次运行",
    "batch.count": "次数",
    "batch.start": "批量运行",
    "batch.progress": "已完成 {done}/{n}",
    "batch.hint": "同一段代码一遍又一遍地运行：柱子显示每种结果（输出行的顺序）出现的次数。点击柱子打开其中一次运行的回放。",
  },
};

/** Replace {name} placeholders. Values are inserted as text, never markup. */
export function format(str, params) {
  if (!params) return str;
  return str.replace(/\{(\w+)\}/g, (m, k) => (Object.prototype.hasOwnProperty.call(params, k) ? String(params[k]) : m));
}

/** Look a key up in a language, falling back to English, then to the key. */
export function translate(lang, key, params) {
  const table = STRINGS[lang] || STRINGS.en;
  const s = table[key] ?? STRINGS.en[key] ?? key;
  return format(s, params);
}

/** Normalise a language tag ("zh-CN", "zh_Hans", "en-US") to "en" or "zh", or null. */
export function normalizeLang(tag) {
  if (!tag || typeof tag !== 'string') return null;
  const base = tag.trim().toLowerCase().split(/[-_]/)[0];
  return LANGS.includes(base) ? base : null;
}

/**
 * Choose the UI language: an explicit choice (localStorage) wins, then the
 * cookie, then the page's language as rendered by the server, then the
 * browser's list, then English.
 */
export function pickLanguage({ stored = null, cookie = null, page = null, navigatorLanguages = [] } = {}) {
  for (const c of [stored, cookie]) {
    const l = normalizeLang(c);
    if (l) return l;
  }
  for (const c of navigatorLanguages || []) {
    const l = normalizeLang(c);
    if (l) return l;
  }
  return normalizeLang(page) || 'en';
}

/** Value of a cookie in a document.cookie string. */
export function readCookie(cookieString, name) {
  if (!cookieString) return null;
  for (const part of cookieString.split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    if (part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return null;
}

// ---- browser part ---------------------------------------------------------

let current = 'en';
const listeners = new Set();
const hasDom = typeof document !== 'undefined';

function storageGet(key) {
  try {
    return typeof localStorage !== 'undefined' ? localStorage.getItem(key) : null;
  } catch {
    return null;
  }
}

function storageSet(key, value) {
  try {
    if (typeof localStorage !== 'undefined') localStorage.setItem(key, value);
  } catch {
    /* private mode */
  }
}

export function getLang() {
  return current;
}

/** Translate in the current language. */
export function t(key, params) {
  return translate(current, key, params);
}

/** Localised text of a {en, zh} object (or a plain string). */
export function pick(obj, lang = current) {
  if (obj == null) return '';
  if (typeof obj === 'string') return obj;
  return obj[lang] ?? obj.en ?? obj.zh ?? '';
}

export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/**
 * Initialise from storage, cookie, the server-rendered <html lang> and the
 * browser. Returns the chosen language and applies it to the page.
 */
export function initLang() {
  if (!hasDom) return current;
  const stored = storageGet('proclab.lang');
  const cookie = readCookie(document.cookie, 'lang');
  const page = document.documentElement.getAttribute('lang');
  const navs = typeof navigator !== 'undefined' ? (navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language]) : [];
  const lang = pickLanguage({ stored, cookie, page, navigatorLanguages: navs });
  setLang(lang, { remember: !!(stored || cookie) });
  return lang;
}

/** Switch the UI language; remembered in localStorage and a `lang` cookie. */
export function setLang(lang, { remember = true } = {}) {
  const l = normalizeLang(lang) || 'en';
  const changed = l !== current;
  current = l;
  if (hasDom) {
    document.documentElement.setAttribute('lang', l === 'zh' ? 'zh-CN' : 'en');
    document.documentElement.dataset.lang = l;
    if (remember) {
      storageSet('proclab.lang', l);
      document.cookie = `lang=${l}; path=/; max-age=31536000; SameSite=Lax`;
    }
    applyI18n(document);
  }
  if (changed) for (const fn of listeners) fn(l);
  return l;
}

/**
 * Translate every [data-i18n] element's text and [data-i18n-attr] attributes
 * ("aria-label:key;title:key2").
 */
export function applyI18n(root) {
  if (!root || !root.querySelectorAll) return;
  for (const el of root.querySelectorAll('[data-i18n]')) {
    const params = el.dataset.i18nParams ? safeJson(el.dataset.i18nParams) : undefined;
    el.textContent = t(el.dataset.i18n, params);
  }
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    const params = el.dataset.i18nParams ? safeJson(el.dataset.i18nParams) : undefined;
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':').map((x) => x.trim());
      if (attr && key) el.setAttribute(attr, t(key, params));
    }
  }
}

function safeJson(s) {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

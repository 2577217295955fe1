# 并发编程~先导篇上 (seeds/001), 管道读写之前: 复习 bytes 和 str: the notes' program as printed (line breaks restored)
# 说管道读写之前,先复习个知识点:
bts = "尴尬".encode()
b_str = bts.decode()
print(bts)
print(b_str)
